package output

import (
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/nfstream-go/nfstream/internal/features"
)

// A udps column (features.KindValue) is typed by the first flow's value:
// int INT64, float DOUBLE, bool BOOLEAN, string (or a first value of
// None) UTF-8 string, a list a LIST of its first element's type (INT64
// when the first list was empty); every column is optional, None being
// null. A later value must fit: an int in a float column is converted,
// any value goes to a column typed by None as its Python str(), anything
// else is an error naming the plugin, the column and the flow.

func valueNode(t features.ValueType) parquet.Node {
	switch t {
	case features.ValueFloat:
		return parquet.Leaf(parquet.DoubleType)
	case features.ValueBool:
		return parquet.Leaf(parquet.BooleanType)
	case features.ValueString:
		return parquet.String()
	case features.ValueNone:
		return parquet.Int(64) // a list whose first value was empty
	}
	return parquet.Int(64)
}

// scalarType is the type of a non-list column (None: string).
func scalarType(t features.ValueType) features.ValueType {
	if t == features.ValueNone {
		return features.ValueString
	}
	return t
}

// fits reports whether v can be written in a column of type t (t of a
// None first value accepts anything, as text).
func fits(v any, t features.ValueType, none bool) bool {
	if v == nil || none {
		return true
	}
	switch v.(type) {
	case int64:
		return t == features.ValueInt || t == features.ValueFloat
	case float64:
		return t == features.ValueFloat
	case bool:
		return t == features.ValueBool
	case string:
		return t == features.ValueString
	}
	return false
}

// checkValues checks every udps value of r fits its column, before any of
// the row is written.
func (p *ParquetSink) checkValues(r *features.Record) error {
	for i := range p.cols {
		c := &p.cols[i]
		if c.Kind != features.KindValue {
			continue
		}
		v := udpsValue(c, r)
		ok := true
		if c.ValueType == features.ValueList {
			if v != nil {
				l, isList := v.([]any)
				ok = isList
				elem := c.Elem
				if elem == features.ValueNone {
					elem = features.ValueInt
				}
				for _, e := range l {
					if e == nil || !fits(e, elem, false) {
						ok = false
					}
				}
			}
		} else {
			ok = fits(v, scalarType(c.ValueType), c.ValueType == features.ValueNone)
		}
		if !ok {
			setter := ""
			if k := r.UDPS.Index(c.UDPS); k >= 0 {
				setter = r.UDPS.Setters[k]
			}
			key := fmt.Sprintf("%s:%d -> %s:%d proto %d", features.AppendIP(nil, r.IPVersion, r.SrcIP), r.SrcPort,
				features.AppendIP(nil, r.IPVersion, r.DstIP), r.DstPort, r.Protocol)
			return fmt.Errorf("parquet %q: plugin %s set %s to %s on flow %s, which does not fit the column's type (%s, from the first flow)",
				p.name, setter, c.Name, appendPyRepr(nil, v), key, valueTypeName(c))
		}
	}
	return nil
}

func valueTypeName(c *features.Column) string {
	names := map[features.ValueType]string{features.ValueNone: "string", features.ValueInt: "int64",
		features.ValueFloat: "double", features.ValueBool: "bool", features.ValueString: "string"}
	if c.ValueType == features.ValueList {
		e := names[c.Elem]
		if c.Elem == features.ValueNone {
			e = "int64"
		}
		return "list<" + e + ">"
	}
	return names[c.ValueType]
}

// leafValue returns v (which fits) as a Parquet value of type t.
func (p *ParquetSink) leafValue(v any, t features.ValueType) parquet.Value {
	switch t {
	case features.ValueFloat:
		if i, ok := v.(int64); ok {
			return parquet.DoubleValue(float64(i))
		}
		return parquet.DoubleValue(v.(float64))
	case features.ValueBool:
		return parquet.BooleanValue(v.(bool))
	case features.ValueString:
		start := len(p.arena)
		if s, ok := v.(string); ok {
			p.arena = append(p.arena, s...)
		} else {
			p.arena = appendPyRepr(p.arena, v)
		}
		return parquet.ByteArrayValue(p.arena[start:len(p.arena):len(p.arena)])
	}
	return parquet.Int64Value(v.(int64))
}

// appendValue appends the values of one udps cell.
func (p *ParquetSink) appendValue(vals []parquet.Value, c *features.Column, v any) []parquet.Value {
	if v == nil {
		return append(vals, parquet.Value{}) // null, definition level 0
	}
	if c.ValueType != features.ValueList {
		x := p.leafValue(v, scalarType(c.ValueType))
		x.SetDefinitionLevel(1)
		return append(vals, x)
	}
	elem := c.Elem
	if elem == features.ValueNone {
		elem = features.ValueInt
	}
	l := v.([]any)
	if len(l) == 0 {
		x := parquet.Value{}
		x.SetDefinitionLevel(1) // an empty list, not null
		return append(vals, x)
	}
	for i, e := range l {
		x := p.leafValue(e, elem)
		x.SetDefinitionLevel(2)
		if i > 0 {
			x.SetRepetitionLevel(1)
		}
		vals = append(vals, x)
	}
	return vals
}
