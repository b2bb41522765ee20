package output

import (
	"strconv"
	"unicode/utf8"

	"github.com/nfstream-go/nfstream/internal/features"
)

// A plugin's udps value (features.KindValue column) is nil (None), int64,
// float64, bool, string or []any of these.

// appendCSVValue appends v as NFStream's CSV writes it: numbers and
// booleans as Python's str(), None as an empty field, strings and lists
// as str() in double quotes (inner quotes doubled, as for every string).
func appendCSVValue(buf []byte, v any) []byte {
	switch v.(type) {
	case string, []any:
		buf = append(buf, '"')
		start := len(buf)
		buf = AppendValueText(buf, v)
		buf = doubleQuotes(buf, start)
		return append(buf, '"')
	}
	return AppendValueText(buf, v)
}

// appendPyRepr appends Python's repr(v) (which is str(v) for all but
// strings).
func appendPyRepr(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "None"...)
	case int64:
		return appendInt(buf, x)
	case float64:
		return AppendPyFloat(buf, x)
	case bool:
		if x {
			return append(buf, "True"...)
		}
		return append(buf, "False"...)
	case string:
		return appendPyStringRepr(buf, x)
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendPyRepr(buf, e)
		}
		return append(buf, ']')
	}
	return buf
}

// appendPyStringRepr appends Python's repr of a string: single quotes
// unless the string has a single quote and no double quote.
func appendPyStringRepr(buf []byte, s string) []byte {
	q := byte('\'')
	hasSingle, hasDouble := false, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			hasSingle = true
		case '"':
			hasDouble = true
		}
	}
	if hasSingle && !hasDouble {
		q = '"'
	}
	buf = append(buf, q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			buf = append(buf, '\\', byte(r))
		case r == '\n':
			buf = append(buf, '\\', 'n')
		case r == '\r':
			buf = append(buf, '\\', 'r')
		case r == '\t':
			buf = append(buf, '\\', 't')
		case r < 0x20 || r == 0x7f:
			buf = append(buf, '\\', 'x', hexDigit(byte(r)>>4), hexDigit(byte(r)&0xf))
		default:
			buf = utf8.AppendRune(buf, r)
		}
	}
	return append(buf, q)
}

// appendJSONValue appends v as JSON: None null, numbers, booleans,
// strings and arrays (a float that is not finite is null).
func appendJSONValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case int64:
		return appendInt(buf, x)
	case float64:
		if x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308 {
			return append(buf, "null"...)
		}
		return AppendPyFloat(buf, x)
	case bool:
		return strconv.AppendBool(buf, x)
	case string:
		return appendJSONString(buf, x)
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONValue(buf, e)
		}
		return append(buf, ']')
	}
	return append(buf, "null"...)
}

// udpsValue returns the value of a KindValue column in r (nil when the
// flow did not set it).
func udpsValue(col *features.Column, r *features.Record) any {
	v, _ := r.UDPS.Get(col.UDPS)
	return v
}
