package output

import (
	"bytes"
	"math"
	"strconv"
)

// AppendPyFloat appends f as Python's repr(float) writes it: the shortest
// decimal that round-trips, in positional notation with at least one digit
// after the point when the decimal exponent is in [-4, 16), and in
// scientific notation ("1e-05", "1.5e+16") otherwise.
func AppendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	// Integral values below 10^16 (counts, sizes, whole means) print as
	// the integer and ".0", without the search for the shortest decimal.
	if math.Abs(f) < 1e16 && f == math.Trunc(f) {
		return append(strconv.AppendInt(dst, int64(f), 10), ".0"...)
	}
	// The shortest decimal once, as [-]d[.ddd]e±XX, laid out positionally
	// when Python would.
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	e := bytes.IndexByte(b, 'e')
	mant, exp := b[:e], 0
	for _, c := range b[e+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[e+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		// Go's shortest 'e' format matches Python's: no trailing ".0",
		// a sign and at least two exponent digits.
		return append(dst, b...)
	}
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	// The digits: mant without its point.
	var digitBuf [20]byte
	digits := append(digitBuf[:0], mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	switch {
	case exp < 0:
		dst = append(dst, "0."...)
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	case len(digits) <= exp+1:
		dst = append(dst, digits...)
		for range exp + 1 - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	default:
		dst = append(dst, digits[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, digits[exp+1:]...)
	}
}
