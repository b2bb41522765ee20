package output

// AppendValueText appends a udps value as NFStream's CSV writes it, less
// the CSV quoting (appendCSVValue adds it): a string as it is, None as
// nothing, anything else as Python's str() (for a list, its repr). Sinks
// with no types of their own for plugin values (IPFIX) carry them so.
func AppendValueText(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return buf
	case string:
		return append(buf, x...)
	}
	return appendPyRepr(buf, v)
}
