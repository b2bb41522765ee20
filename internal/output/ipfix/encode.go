package ipfix

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// Sizes of RFC 7011's headers.
const (
	MessageHeaderLen = 16
	SetHeaderLen     = 4
	basicListHdrLen  = 9 // semantic, field id, element length, PEN
)

// span is a variable-length field's content in the encoder's scratch
// buffer: [start, end).
type span struct{ start, end int }

// recordEncoder writes data records of one schema. It is not safe for
// concurrent use.
type recordEncoder struct {
	schema  *Schema
	max     int // the largest record that fits a message
	scratch []byte
	spans   []span
}

// flowEndReason maps expiration_id to IPFIX's flowEndReason (RFC 7012
// section 5.11.3): idle 1, active 2, custom (a plugin ended it) 3 "end of
// flow detected", evicted 5 "lack of resources".
func flowEndReason(expirationID int64) uint8 {
	switch expirationID {
	case 0:
		return 1
	case 1:
		return 2
	case 2:
		return 5
	}
	return 3
}

func varlenSize(n int) int {
	if n < 255 {
		return 1 + n
	}
	return 3 + n
}

// fields returns the template id and fields for r.
func (e *recordEncoder) fields(r *features.Record) (uint16, []Field) {
	if r.IPVersion == 6 {
		return TemplateIPv6, e.schema.V6
	}
	return TemplateIPv4, e.schema.V4
}

// appendRecord appends the data record of r to dst. Variable-length
// values are cut, strings first (at a character boundary) then lists,
// last fields first, until the record fits e.max; truncated says so. ok
// is false when the record does not fit even with them empty.
func (e *recordEncoder) appendRecord(dst []byte, r *features.Record) (out []byte, tid uint16, truncated, ok bool) {
	tid, fields := e.fields(r)
	e.scratch, e.spans = e.scratch[:0], e.spans[:0]
	size := 0
	for i := range fields {
		f := &fields[i]
		if f.Length != Variable {
			size += int(f.Length)
			continue
		}
		start := len(e.scratch)
		c := &e.schema.Cols[f.Column]
		switch f.enc {
		case encColumnString:
			e.scratch = c.String(r, e.scratch)
		case encValue:
			v, _ := r.UDPS.Get(c.UDPS)
			e.scratch = output.AppendValueText(e.scratch, v)
		case encColumnList:
			n := itemLen(f.Item)
			for j, m := 0, c.ListLen(r); j < m; j++ {
				e.scratch = appendInt(e.scratch, c.List(r, j), n)
			}
		}
		if len(e.scratch)-start > 0xFFFF-basicListHdrLen {
			e.scratch = e.scratch[:start+0xFFFF-basicListHdrLen]
			truncated = true
		}
		e.spans = append(e.spans, span{start, len(e.scratch)})
		size += varlenSize(e.spanLen(f, e.spans[len(e.spans)-1]))
	}
	if size > e.max {
		truncated = true
		size = e.shrink(fields, size, TypeString)
		if size > e.max {
			size = e.shrink(fields, size, TypeBasicList)
		}
		if size > e.max {
			return dst, tid, truncated, false
		}
	}
	v := 0
	for i := range fields {
		f := &fields[i]
		c := &e.schema.Cols[max(f.Column, 0)]
		switch f.enc {
		case encColumnUint:
			dst = appendUint(dst, c.Uint(r), int(f.Length))
		case encColumnInt:
			dst = appendInt(dst, c.Int(r), int(f.Length))
		case encColumnFloat:
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(c.Float(r)))
		case encSrcIP, encDstIP:
			a := r.SrcIP
			if f.enc == encDstIP {
				a = r.DstIP
			}
			dst = append(dst, a[:f.Length]...)
		case encSrcMAC:
			dst = append(dst, r.SrcMAC[:]...)
		case encDstMAC:
			dst = append(dst, r.DstMAC[:]...)
		case encEndReason:
			dst = append(dst, flowEndReason(c.Int(r)))
		default: // variable length
			sp := e.spans[v]
			v++
			n := e.spanLen(f, sp)
			if n < 255 {
				dst = append(dst, byte(n))
			} else {
				dst = append(dst, 0xFF, byte(n>>8), byte(n))
			}
			if f.Type == TypeBasicList {
				dst = append(dst, basicListOrdered)
				dst = binary.BigEndian.AppendUint16(dst, f.ItemID|0x8000)
				dst = binary.BigEndian.AppendUint16(dst, uint16(itemLen(f.Item)))
				dst = binary.BigEndian.AppendUint32(dst, EnterpriseNumber)
			}
			dst = append(dst, e.scratch[sp.start:sp.end]...)
		}
	}
	return dst, tid, truncated, true
}

// spanLen is the encoded length of a variable-length field's content.
func (e *recordEncoder) spanLen(f *Field, sp span) int {
	if f.Type == TypeBasicList {
		return basicListHdrLen + sp.end - sp.start
	}
	return sp.end - sp.start
}

// shrink cuts the variable-length fields of type typ, last first, until
// the record size fits e.max; it returns the new size.
func (e *recordEncoder) shrink(fields []Field, size int, typ uint8) int {
	v := len(e.spans)
	for i := len(fields) - 1; i >= 0 && size > e.max; i-- {
		f := &fields[i]
		if f.Length != Variable {
			continue
		}
		v--
		if f.Type != typ {
			continue
		}
		sp := &e.spans[v]
		old := varlenSize(e.spanLen(f, *sp))
		excess := size - e.max
		keep := max(sp.end-sp.start-excess, 0)
		if typ == TypeBasicList {
			n := itemLen(f.Item)
			keep -= keep % n
		} else {
			for keep > 0 && !utf8.RuneStart(e.scratch[sp.start+keep]) {
				keep--
			}
		}
		sp.end = sp.start + keep
		size += varlenSize(e.spanLen(f, *sp)) - old
		// Going below 255 bytes saves the two length bytes: cut again
		// only if still over.
	}
	return size
}

// appendUint appends the n low bytes of x, big-endian.
func appendUint(dst []byte, x uint64, n int) []byte {
	switch n { // the lengths fields have; one append each
	case 1:
		return append(dst, byte(x))
	case 2:
		return binary.BigEndian.AppendUint16(dst, uint16(x))
	case 4:
		return binary.BigEndian.AppendUint32(dst, uint32(x))
	case 8:
		return binary.BigEndian.AppendUint64(dst, x)
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(x>>(8*i)))
	}
	return dst
}

func appendInt(dst []byte, x int64, n int) []byte { return appendUint(dst, uint64(x), n) }

// appendTemplateRecord appends a template record (RFC 7011 section 3.4.1).
func appendTemplateRecord(dst []byte, tid uint16, fields []Field) []byte {
	dst = binary.BigEndian.AppendUint16(dst, tid)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(fields)))
	for _, f := range fields {
		dst = appendFieldSpec(dst, f.ID, f.PEN, f.Length)
	}
	return dst
}

func appendFieldSpec(dst []byte, id uint16, pen uint32, length uint16) []byte {
	if pen != 0 {
		dst = binary.BigEndian.AppendUint16(dst, id|0x8000)
		dst = binary.BigEndian.AppendUint16(dst, length)
		return binary.BigEndian.AppendUint32(dst, pen)
	}
	dst = binary.BigEndian.AppendUint16(dst, id)
	return binary.BigEndian.AppendUint16(dst, length)
}

// appendTypesTemplate appends the options template record of the RFC 5610
// type records: scope privateEnterpriseNumber and informationElementId,
// then informationElementDataType, informationElementSemantics and
// informationElementName.
func appendTypesTemplate(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TemplateTypes)
	dst = binary.BigEndian.AppendUint16(dst, 5) // fields
	dst = binary.BigEndian.AppendUint16(dst, 2) // scope fields
	dst = appendFieldSpec(dst, iePEN, 0, 4)
	dst = appendFieldSpec(dst, ieInformationElementID, 0, 2)
	dst = appendFieldSpec(dst, ieDataType, 0, 1)
	dst = appendFieldSpec(dst, ieSemantics, 0, 1)
	return appendFieldSpec(dst, ieElementName, 0, Variable)
}

// typeRecords returns the RFC 5610 records describing every enterprise
// element of the schema, one []byte each.
func (s *Schema) typeRecords() [][]byte {
	var out [][]byte
	seen := map[uint16]bool{}
	add := func(id uint16, typ, sem uint8, name string) {
		if seen[id] {
			return
		}
		seen[id] = true
		b := binary.BigEndian.AppendUint32(nil, EnterpriseNumber)
		b = binary.BigEndian.AppendUint16(b, id)
		b = append(b, typ, sem)
		if len(name) > 250 {
			name = name[:250]
		}
		b = append(b, byte(len(name)))
		out = append(out, append(b, name...))
	}
	for _, fs := range [][]Field{s.V4, s.V6} {
		for _, f := range fs {
			switch {
			case f.Type == TypeBasicList:
				add(f.ItemID, f.Item, semanticList, f.Name)
			case f.PEN == EnterpriseNumber:
				add(f.ID, f.Type, semanticDefault, f.Name)
			}
		}
	}
	return out
}

// message builds one IPFIX message of at most max bytes.
type message struct {
	buf     []byte
	max     int
	setAt   int    // offset of the open set's header, or -1
	setID   uint16 // id of the open set
	records uint32 // data records (set id >= 256) in the message
}

func (m *message) reset() {
	m.buf = append(m.buf[:0], make([]byte, MessageHeaderLen)...)
	m.setAt, m.records = -1, 0
}

func (m *message) empty() bool { return len(m.buf) <= MessageHeaderLen }

// add appends rec to a set of id setID, opening one if needed; false when
// it does not fit.
func (m *message) add(setID uint16, rec []byte) bool {
	need := len(rec)
	if m.setAt < 0 || m.setID != setID {
		need += SetHeaderLen
	}
	if len(m.buf)+need > m.max {
		return false
	}
	if m.setAt < 0 || m.setID != setID {
		m.closeSet()
		m.setAt, m.setID = len(m.buf), setID
		m.buf = binary.BigEndian.AppendUint16(m.buf, setID)
		m.buf = append(m.buf, 0, 0)
	}
	m.buf = append(m.buf, rec...)
	if setID >= 256 {
		m.records++
	}
	return true
}

func (m *message) closeSet() {
	if m.setAt >= 0 {
		binary.BigEndian.PutUint16(m.buf[m.setAt+2:], uint16(len(m.buf)-m.setAt))
		m.setAt = -1
	}
}

// finish writes the header (RFC 7011 section 3.1) and returns the bytes.
func (m *message) finish(exportTime, seq, domain uint32) []byte {
	m.closeSet()
	b := m.buf
	binary.BigEndian.PutUint16(b[0:], 10)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint32(b[4:], exportTime)
	binary.BigEndian.PutUint32(b[8:], seq)
	binary.BigEndian.PutUint32(b[12:], domain)
	return b
}
