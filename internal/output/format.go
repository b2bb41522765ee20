package output

import (
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
	exp := decimalExponent(f)
	if exp < -4 || exp >= 16 {
		// Go's shortest 'e' format matches Python's: no trailing ".0",
		// a sign and at least two exponent digits.
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// decimalExponent returns the exponent of f's shortest decimal form
// d.ddd × 10^exp.
func decimalExponent(f float64) int {
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	i := len(b) - 1
	for b[i] != 'e' {
		i--
	}
	e := 0
	for _, c := range b[i+2:] {
		e = e*10 + int(c-'0')
	}
	if b[i+1] == '-' {
		return -e
	}
	return e
}
