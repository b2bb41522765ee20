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
	// Integral values below 10^16 (counts, sizes, whole means) print as
	// the integer and ".0", without the search for the shortest decimal.
	a := math.Abs(f)
	if a < 1e16 && f == math.Trunc(f) {
		return append(appendInt(dst, int64(f)), ".0"...)
	}
	// Python writes the shortest decimal positionally when its exponent
	// is in [-4, 16), which is when 1e-4 <= |f| < 1e16: rounding a
	// decimal to a float keeps order, 1e16 is a float and 1e-4 the float
	// 10^-4 rounds to, so the shortest decimal of |f| is at least 10^-4
	// (below 10^16) exactly when |f| is. Not integral, it has a point.
	if a >= 1e-4 && a < 1e16 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	// Scientific: Go's shortest 'e' format matches Python's (no trailing
	// ".0", a sign and at least two exponent digits).
	return strconv.AppendFloat(dst, f, 'e', -1, 64)
}
