package output

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

// Values and the text Python 3's repr() gives them.
var pyRepr = []struct {
	f    float64
	want string
}{
	{68, "68.0"},
	{0, "0.0"},
	{math.Copysign(0, -1), "-0.0"},
	{0.1, "0.1"},
	{1e-05, "1e-05"},
	{0.0001, "0.0001"},
	{0.00012345, "0.00012345"},
	{1e15, "1000000000000000.0"},
	{1e16, "1e+16"},
	{1.5e16, "1.5e+16"},
	{123456789012345678, "1.2345678901234568e+17"},
	{310.57142857142856, "310.57142857142856"},
	{80.49999999999999, "80.49999999999999"},
	{-2.5, "-2.5"},
	{1e100, "1e+100"},
	{5e-324, "5e-324"},
	{math.Inf(1), "inf"},
	{math.NaN(), "nan"},
}

func TestAppendPyFloat(t *testing.T) {
	for _, c := range pyRepr {
		if got := string(AppendPyFloat(nil, c.f)); got != c.want {
			t.Errorf("AppendPyFloat(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

// TestAppendPyFloatAgainstPython compares with the real repr() of the
// machine's python3 over many values of every magnitude.
func TestAppendPyFloatAgainstPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 0, 5000)
	for i := 0; i < 5000; i++ {
		switch i % 3 {
		case 0:
			vals = append(vals, math.Float64frombits(rng.Uint64()))
		case 1:
			vals = append(vals, float64(rng.IntN(100000))/float64(1+rng.IntN(1000)))
		default:
			vals = append(vals, rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)))
		}
	}
	// Integral values (the integer fast path), and both sides of the
	// bounds between positional and scientific notation.
	for i := 0; i < 2000; i++ {
		v := math.Round(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(19))))
		vals = append(vals, v, -v, v/8)
	}
	for _, edge := range []float64{1e16, 1e-4, 1e-5, 1e15, 1e17} {
		for _, v := range []float64{edge, math.Nextafter(edge, 0), math.Nextafter(edge, math.Inf(1))} {
			vals = append(vals, v, -v, v*3, v*7.5)
		}
	}
	vals = append(vals, 9007199254740993, 9999999999999998, 123456789012345.6, 0.1, 0.5, 80.49999999999999)
	var in []string
	for _, v := range vals {
		in = append(in, strconv.FormatUint(math.Float64bits(v), 16))
	}
	out := testgen.Python(t, "compare with Python's repr", `
import sys, struct
for line in sys.stdin:
    print(repr(struct.unpack('<d', int(line, 16).to_bytes(8, 'little'))[0]))
`, in)
	if len(out) != len(vals) {
		t.Fatalf("python3 printed %d lines for %d values", len(out), len(vals))
	}
	for i, want := range out {
		if got := string(AppendPyFloat(nil, vals[i])); got != want {
			t.Errorf("AppendPyFloat(%b) = %q, Python says %q", vals[i], got, want)
		}
	}
}

// pyFloatReference is AppendPyFloat the slow, obvious way (Go's shortest
// positional form, ".0" added when it has no point), for FuzzAppendPyFloat.
func pyFloatReference(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
		return string(AppendPyFloat(nil, f))
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// FuzzAppendPyFloat checks AppendPyFloat's one-pass layout of the shortest
// decimal against the two-pass reference, on any 64 bits.
func FuzzAppendPyFloat(f *testing.F) {
	for _, c := range pyRepr {
		f.Add(math.Float64bits(c.f))
	}
	f.Add(math.Float64bits(1e16))
	f.Add(math.Float64bits(0.0001))
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		if got, want := string(AppendPyFloat(nil, v)), pyFloatReference(v); got != want {
			t.Fatalf("AppendPyFloat(%b) = %q, want %q", v, got, want)
		}
	})
}

// TestAppendInt compares appendInt and appendUint with strconv at every
// digit count's bounds, into buffers with and without room.
func TestAppendInt(t *testing.T) {
	vals := []uint64{0, math.MaxUint64, math.MaxInt64, 1 << 63}
	for p := uint64(1); p <= 1e19; p *= 10 {
		vals = append(vals, p-1, p, p+1, 2*p-1)
		if p == 1e19 {
			break
		}
	}
	for _, v := range vals {
		for _, dst := range [][]byte{nil, []byte("x,"), make([]byte, 1, 64)} {
			if got, want := string(appendUint(dst, v)), string(strconv.AppendUint(dst, v, 10)); got != want {
				t.Errorf("appendUint(%q, %d) = %q, want %q", dst, v, got, want)
			}
			if got, want := string(appendInt(dst, int64(v))), string(strconv.AppendInt(dst, int64(v), 10)); got != want {
				t.Errorf("appendInt(%q, %d) = %q, want %q", dst, int64(v), got, want)
			}
		}
	}
}

// FuzzAppendInt checks appendInt and appendUint against strconv on any
// 64 bits.
func FuzzAppendInt(f *testing.F) {
	f.Add(uint64(0))
	f.Add(uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, v uint64) {
		if got, want := string(appendUint([]byte("a"), v)), string(strconv.AppendUint([]byte("a"), v, 10)); got != want {
			t.Fatalf("appendUint(%d) = %q, want %q", v, got, want)
		}
		if got, want := string(appendInt(nil, int64(v))), strconv.FormatInt(int64(v), 10); got != want {
			t.Fatalf("appendInt(%d) = %q, want %q", int64(v), got, want)
		}
	})
}
