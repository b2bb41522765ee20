package output

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testgen"
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
