// Package ipfixread is a test oracle: an IPFIX reader written from RFC
// 7011 (messages, sets, templates, options templates, variable-length
// fields), RFC 6313 (basicList) and RFC 5610 (type records), independent
// of the exporter in internal/output/ipfix, so tests can read back what
// it sends. It checks every length and never panics on bad input.
package ipfixread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Element names an information element: PEN 0 for IANA's.
type Element struct {
	ID  uint16
	PEN uint32
}

// FieldSpec is a template's field: an element and its length (65535 for
// variable-length).
type FieldSpec struct {
	Element
	Length uint16
}

// Template is a template or options template record.
type Template struct {
	ID     uint16
	Scope  int // scope fields (options templates); 0 for templates
	Fields []FieldSpec
}

// Value is one field of a data record; Bytes points into the message.
type Value struct {
	Element
	Bytes []byte
}

// Record is one data record.
type Record struct {
	Template uint16
	Options  bool // described by an options template
	Values   []Value
}

// Get returns the first value of element el.
func (r *Record) Get(el Element) ([]byte, bool) {
	for _, v := range r.Values {
		if v.Element == el {
			return v.Bytes, true
		}
	}
	return nil, false
}

// Message is one decoded IPFIX message.
type Message struct {
	ExportTime, Sequence, Domain uint32
	Templates                    []Template // (options) templates it defined
	Records                      []Record
	// Unknown counts the data sets skipped because their template was
	// not known yet.
	Unknown int
}

// Decoder reads messages, keeping the templates of each observation
// domain.
type Decoder struct {
	templates map[[2]uint32]*Template // (domain, template id)
}

// NewDecoder returns a decoder that knows no template.
func NewDecoder() *Decoder {
	return &Decoder{templates: map[[2]uint32]*Template{}}
}

var errShort = errors.New("truncated")

// ReadMessage reads one message from a stream (TCP): the header tells the
// length.
func ReadMessage(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if v := binary.BigEndian.Uint16(h[:]); v != 10 {
		return nil, fmt.Errorf("ipfix: version %d, not 10", v)
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n < 16 {
		return nil, fmt.Errorf("ipfix: message length %d < 16", n)
	}
	b := make([]byte, n)
	copy(b, h[:])
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return nil, fmt.Errorf("ipfix: message body: %w", err)
	}
	return b, nil
}

// Decode decodes one message (RFC 7011 section 3).
func (d *Decoder) Decode(b []byte) (*Message, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("ipfix: message of %d bytes: %w", len(b), errShort)
	}
	if v := binary.BigEndian.Uint16(b); v != 10 {
		return nil, fmt.Errorf("ipfix: version %d, not 10", v)
	}
	if n := int(binary.BigEndian.Uint16(b[2:])); n != len(b) {
		return nil, fmt.Errorf("ipfix: header says %d bytes, message has %d", n, len(b))
	}
	m := &Message{
		ExportTime: binary.BigEndian.Uint32(b[4:]),
		Sequence:   binary.BigEndian.Uint32(b[8:]),
		Domain:     binary.BigEndian.Uint32(b[12:]),
	}
	for off := 16; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("ipfix: set header at %d: %w", off, errShort)
		}
		id := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			return nil, fmt.Errorf("ipfix: set at %d: length %d does not fit", off, n)
		}
		body := b[off+4 : off+n]
		var err error
		switch {
		case id == 2 || id == 3:
			err = d.templateSet(m, body, id == 3)
		case id >= 256:
			err = d.dataSet(m, id, body)
		default:
			err = fmt.Errorf("set id %d is reserved", id)
		}
		if err != nil {
			return nil, fmt.Errorf("ipfix: set %d at %d: %w", id, off, err)
		}
		off += n
	}
	return m, nil
}

func (d *Decoder) templateSet(m *Message, b []byte, options bool) error {
	for len(b) >= 4 {
		t := Template{ID: binary.BigEndian.Uint16(b)}
		count := int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if t.ID < 256 {
			return fmt.Errorf("template id %d < 256", t.ID)
		}
		if options {
			if len(b) < 2 {
				return errShort
			}
			t.Scope = int(binary.BigEndian.Uint16(b))
			b = b[2:]
			if t.Scope == 0 || t.Scope > count {
				return fmt.Errorf("options template %d: %d scope fields of %d", t.ID, t.Scope, count)
			}
		}
		for i := 0; i < count; i++ {
			if len(b) < 4 {
				return fmt.Errorf("template %d field %d: %w", t.ID, i, errShort)
			}
			f := FieldSpec{Element: Element{ID: binary.BigEndian.Uint16(b) & 0x7FFF}, Length: binary.BigEndian.Uint16(b[2:])}
			ent := b[0]&0x80 != 0
			b = b[4:]
			if ent {
				if len(b) < 4 {
					return fmt.Errorf("template %d field %d enterprise number: %w", t.ID, i, errShort)
				}
				f.PEN = binary.BigEndian.Uint32(b)
				b = b[4:]
			}
			t.Fields = append(t.Fields, f)
		}
		if count == 0 {
			// A withdrawal (RFC 7011 section 8.1).
			delete(d.templates, [2]uint32{m.Domain, uint32(t.ID)})
		} else {
			tt := t
			d.templates[[2]uint32{m.Domain, uint32(t.ID)}] = &tt
		}
		m.Templates = append(m.Templates, t)
	}
	// What remains is padding (RFC 7011 section 3.3.1).
	return nil
}

func (d *Decoder) dataSet(m *Message, id uint16, b []byte) error {
	t := d.templates[[2]uint32{m.Domain, uint32(id)}]
	if t == nil {
		m.Unknown++
		return nil
	}
	min := 0
	for _, f := range t.Fields {
		if f.Length == 0xFFFF {
			min++
		} else {
			min += int(f.Length)
		}
	}
	for len(b) > 0 && len(b) >= min {
		r := Record{Template: id, Options: t.Scope > 0}
		for i, f := range t.Fields {
			n := int(f.Length)
			if f.Length == 0xFFFF {
				if len(b) < 1 {
					return fmt.Errorf("record field %d length: %w", i, errShort)
				}
				n, b = int(b[0]), b[1:]
				if n == 255 {
					if len(b) < 2 {
						return fmt.Errorf("record field %d long length: %w", i, errShort)
					}
					n, b = int(binary.BigEndian.Uint16(b)), b[2:]
				}
			}
			if len(b) < n {
				return fmt.Errorf("record field %d: %d bytes, %d left: %w", i, n, len(b), errShort)
			}
			r.Values = append(r.Values, Value{Element: f.Element, Bytes: b[:n:n]})
			b = b[n:]
		}
		m.Records = append(m.Records, r)
		if min == 0 {
			// Only empty fields: the rest of the set is padding.
			break
		}
	}
	return nil
}

// BasicList is an RFC 6313 basicList.
type BasicList struct {
	Semantic uint8
	Item     Element
	ItemLen  uint16
	Items    [][]byte
}

// ParseBasicList decodes a basicList field's content.
func ParseBasicList(b []byte) (BasicList, error) {
	var l BasicList
	if len(b) < 5 {
		return l, fmt.Errorf("basicList header: %w", errShort)
	}
	l.Semantic = b[0]
	l.Item.ID = binary.BigEndian.Uint16(b[1:]) & 0x7FFF
	ent := b[1]&0x80 != 0
	l.ItemLen = binary.BigEndian.Uint16(b[3:])
	b = b[5:]
	if ent {
		if len(b) < 4 {
			return l, fmt.Errorf("basicList enterprise number: %w", errShort)
		}
		l.Item.PEN, b = binary.BigEndian.Uint32(b), b[4:]
	}
	for len(b) > 0 {
		n := int(l.ItemLen)
		if l.ItemLen == 0xFFFF {
			n, b = int(b[0]), b[1:]
			if n == 255 {
				if len(b) < 2 {
					return l, fmt.Errorf("basicList item length: %w", errShort)
				}
				n, b = int(binary.BigEndian.Uint16(b)), b[2:]
			}
		} else if n == 0 {
			return l, fmt.Errorf("basicList item length 0")
		}
		if len(b) < n {
			return l, fmt.Errorf("basicList item: %w", errShort)
		}
		l.Items = append(l.Items, b[:n:n])
		b = b[n:]
	}
	return l, nil
}

// Uint reads an unsigned integer of 1 to 8 bytes (reduced-size encoding,
// RFC 7011 section 6.2).
func Uint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("integer of %d bytes", len(b))
	}
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x, nil
}

// Int reads a signed integer of 1 to 8 bytes.
func Int(b []byte) (int64, error) {
	x, err := Uint(b)
	if err != nil {
		return 0, err
	}
	shift := 64 - 8*uint(len(b))
	return int64(x<<shift) >> shift, nil
}

// Float reads a float64 (or a float32).
func Float(b []byte) (float64, error) {
	switch len(b) {
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	}
	return 0, fmt.Errorf("float of %d bytes", len(b))
}

// TypeInfo is an RFC 5610 type record: what an enterprise element is.
type TypeInfo struct {
	Element
	DataType, Semantics uint8
	Name                string
}

// TypeRecord reads an RFC 5610 record (an options record with scope
// privateEnterpriseNumber 346 and informationElementId 303); ok is false
// for other records.
func TypeRecord(r *Record) (TypeInfo, bool) {
	var ti TypeInfo
	pen, ok1 := r.Get(Element{ID: 346})
	id, ok2 := r.Get(Element{ID: 303})
	typ, ok3 := r.Get(Element{ID: 339})
	name, ok4 := r.Get(Element{ID: 341})
	if !(ok1 && ok2 && ok3 && ok4) || !r.Options {
		return ti, false
	}
	p, err1 := Uint(pen)
	i, err2 := Uint(id)
	t, err3 := Uint(typ)
	if err1 != nil || err2 != nil || err3 != nil {
		return ti, false
	}
	ti.PEN, ti.ID, ti.DataType, ti.Name = uint32(p), uint16(i), uint8(t), string(name)
	if sem, ok := r.Get(Element{ID: 344}); ok && len(sem) == 1 {
		ti.Semantics = sem[0]
	}
	return ti, true
}
