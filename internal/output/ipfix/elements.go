package ipfix

import (
	"github.com/nfstream-go/nfstream/internal/features"
)

// EnterpriseNumber is the private enterprise number (PEN) of the
// enterprise-specific elements: 32473, which RFC 5612 reserves for
// documentation and examples. It is a placeholder until the project
// registers a number of its own (docs/ipfix.md "Enterprise elements").
const EnterpriseNumber = 32473

// ReversePEN is RFC 5103's enterprise number for reverse elements: the
// element with the same id describes the biflow's reverse direction.
const ReversePEN = 29305

// Template ids: data records of IPv4 and IPv6 flows, and the RFC 5610
// options records that describe the enterprise elements.
const (
	TemplateIPv4  = 256
	TemplateIPv6  = 257
	TemplateTypes = 258
)

// Data types (RFC 7012 section 3.1, numbered as in RFC 5610's
// informationElementDataType registry).
const (
	TypeOctetArray   uint8 = 0
	TypeUnsigned8    uint8 = 1
	TypeUnsigned16   uint8 = 2
	TypeUnsigned32   uint8 = 3
	TypeUnsigned64   uint8 = 4
	TypeSigned8      uint8 = 5
	TypeSigned16     uint8 = 6
	TypeSigned32     uint8 = 7
	TypeSigned64     uint8 = 8
	TypeFloat64      uint8 = 10
	TypeBoolean      uint8 = 11
	TypeMAC          uint8 = 12
	TypeString       uint8 = 13
	TypeDateTimeMS   uint8 = 15
	TypeIPv4         uint8 = 18
	TypeIPv6         uint8 = 19
	TypeBasicList    uint8 = 20
	semanticDefault  uint8 = 0
	semanticList     uint8 = 6
	basicListOrdered uint8 = 4 // RFC 6313 section 4.5.1 semantic "ordered"
)

// Variable is the field length that marks a variable-length field.
const Variable = 0xFFFF

// IANA element ids used here (RFC 7012 and the IANA IPFIX registry).
const (
	ieOctetDeltaCount      = 1
	iePacketDeltaCount     = 2
	ieProtocolIdentifier   = 4
	ieSourceTransportPort  = 7
	ieSourceIPv4Address    = 8
	ieDestTransportPort    = 11
	ieDestIPv4Address      = 12
	ieSourceIPv6Address    = 27
	ieDestIPv6Address      = 28
	ieSourceMacAddress     = 56
	ieVlanID               = 58
	ieIPVersion            = 60
	ieDestMacAddress       = 80
	ieFlowEndReason        = 136
	ieFlowID               = 148
	ieFlowStartMS          = 152
	ieFlowEndMS            = 153
	ieBasicList            = 291
	ieInformationElementID = 303
	ieDataType             = 339
	ieElementName          = 341
	ieSemantics            = 344
	iePEN                  = 346
)

// staticNames are the columns with a fixed enterprise element id: the
// i-th has id i+1. The list only grows at its end, so an id never
// changes meaning; docs/ipfix.md has the table. Columns that are not here
// and have no IANA element (udps values, columns added later) get ids
// from DynamicBase on, in column order, announced by RFC 5610 records.
var staticNames = []string{
	"expiration_id", "src_oui", "dst_oui", "tunnel_id",
	"bidirectional_duration_ms", "bidirectional_packets", "bidirectional_bytes",
	"src2dst_first_seen_ms", "src2dst_last_seen_ms", "src2dst_duration_ms",
	"dst2src_first_seen_ms", "dst2src_last_seen_ms", "dst2src_duration_ms",
	"bidirectional_min_ps", "bidirectional_mean_ps", "bidirectional_stddev_ps", "bidirectional_max_ps",
	"src2dst_min_ps", "src2dst_mean_ps", "src2dst_stddev_ps", "src2dst_max_ps",
	"dst2src_min_ps", "dst2src_mean_ps", "dst2src_stddev_ps", "dst2src_max_ps",
	"bidirectional_min_piat_ms", "bidirectional_mean_piat_ms", "bidirectional_stddev_piat_ms", "bidirectional_max_piat_ms",
	"src2dst_min_piat_ms", "src2dst_mean_piat_ms", "src2dst_stddev_piat_ms", "src2dst_max_piat_ms",
	"dst2src_min_piat_ms", "dst2src_mean_piat_ms", "dst2src_stddev_piat_ms", "dst2src_max_piat_ms",
	"bidirectional_syn_packets", "bidirectional_cwr_packets", "bidirectional_ece_packets", "bidirectional_urg_packets",
	"bidirectional_ack_packets", "bidirectional_psh_packets", "bidirectional_rst_packets", "bidirectional_fin_packets",
	"src2dst_syn_packets", "src2dst_cwr_packets", "src2dst_ece_packets", "src2dst_urg_packets",
	"src2dst_ack_packets", "src2dst_psh_packets", "src2dst_rst_packets", "src2dst_fin_packets",
	"dst2src_syn_packets", "dst2src_cwr_packets", "dst2src_ece_packets", "dst2src_urg_packets",
	"dst2src_ack_packets", "dst2src_psh_packets", "dst2src_rst_packets", "dst2src_fin_packets",
	"splt_direction", "splt_ps", "splt_piat_ms",
	"application_name", "application_category_name", "application_is_guessed", "application_confidence",
	"requested_server_name", "client_fingerprint", "server_fingerprint", "user_agent", "content_type",
}

// DynamicBase is the first enterprise element id of the columns that are
// not in the static table.
const DynamicBase = 1000

// StaticID returns the fixed enterprise element id of a column, or 0.
func StaticID(name string) uint16 {
	for i, n := range staticNames {
		if n == name {
			return uint16(i + 1)
		}
	}
	return 0
}

// Field is one field of a data template: an element, its length in the
// record (Variable for variable-length) and the column it carries.
type Field struct {
	ID     uint16 // element id, without the enterprise bit
	PEN    uint32 // 0 for IANA elements
	Length uint16
	// Column is the index of the column the field carries, or -1 for
	// flowEndReason (derived from expiration_id).
	Column int
	// Type is the element's data type; for a basicList, Item is the type
	// of its items and ItemID their (enterprise) element id.
	Type   uint8
	Item   uint8
	ItemID uint16
	Name   string // the column name, for RFC 5610 records
	enc    encoder
}

// encoder kinds: how a field's value is taken from a record.
type encoder uint8

const (
	encColumnUint encoder = iota // the column's Uint, in Length bytes
	encColumnInt                 // the column's Int, in Length bytes
	encColumnFloat
	encColumnString
	encColumnList
	encValue     // a udps value, as its CSV text
	encSrcIP     // record's source address (4 or 16 bytes)
	encDstIP     // record's destination address
	encSrcMAC    // record's source MAC
	encDstMAC    // record's destination MAC
	encEndReason // flowEndReason from expiration_id
)

// ianaColumn is a column carried by an IANA (or RFC 5103 reverse)
// element.
type ianaColumn struct {
	id   uint16
	pen  uint32
	len4 uint16 // length in the IPv4 template
	len6 uint16 // length in the IPv6 template (NewSchema swaps in the IPv6 address ids)
	typ  uint8
	enc  encoder
}

var ianaColumns = map[string]ianaColumn{
	"id":                          {ieFlowID, 0, 8, 8, TypeUnsigned64, encColumnUint},
	"src_ip":                      {ieSourceIPv4Address, 0, 4, 16, TypeIPv4, encSrcIP},
	"dst_ip":                      {ieDestIPv4Address, 0, 4, 16, TypeIPv4, encDstIP},
	"src_mac":                     {ieSourceMacAddress, 0, 6, 6, TypeMAC, encSrcMAC},
	"dst_mac":                     {ieDestMacAddress, 0, 6, 6, TypeMAC, encDstMAC},
	"src_port":                    {ieSourceTransportPort, 0, 2, 2, TypeUnsigned16, encColumnUint},
	"dst_port":                    {ieDestTransportPort, 0, 2, 2, TypeUnsigned16, encColumnUint},
	"protocol":                    {ieProtocolIdentifier, 0, 1, 1, TypeUnsigned8, encColumnUint},
	"ip_version":                  {ieIPVersion, 0, 1, 1, TypeUnsigned8, encColumnUint},
	"vlan_id":                     {ieVlanID, 0, 2, 2, TypeUnsigned16, encColumnUint},
	"bidirectional_first_seen_ms": {ieFlowStartMS, 0, 8, 8, TypeDateTimeMS, encColumnUint},
	"bidirectional_last_seen_ms":  {ieFlowEndMS, 0, 8, 8, TypeDateTimeMS, encColumnUint},
	"src2dst_packets":             {iePacketDeltaCount, 0, 8, 8, TypeUnsigned64, encColumnUint},
	"src2dst_bytes":               {ieOctetDeltaCount, 0, 8, 8, TypeUnsigned64, encColumnUint},
	"dst2src_packets":             {iePacketDeltaCount, ReversePEN, 8, 8, TypeUnsigned64, encColumnUint},
	"dst2src_bytes":               {ieOctetDeltaCount, ReversePEN, 8, 8, TypeUnsigned64, encColumnUint},
}

// Schema is the layout of the data records of one run: the fields of the
// IPv4 and the IPv6 template (they differ only in the address elements).
type Schema struct {
	Cols []features.Column
	V4   []Field
	V6   []Field
}

// NewSchema maps columns to fields. Columns named in plain (anonymized
// columns, whose values are no longer addresses or numbers) are carried
// as enterprise elements of their column's kind, never as IANA elements.
func NewSchema(cols []features.Column, plain []string) *Schema {
	s := &Schema{Cols: cols}
	isPlain := func(name string) bool {
		for _, p := range plain {
			if p == name {
				return true
			}
		}
		return false
	}
	dyn := uint16(DynamicBase)
	for i := range cols {
		c := &cols[i]
		if ia, ok := ianaColumns[c.Name]; ok && !isPlain(c.Name) && c.Kind != features.KindValue {
			f4 := Field{ID: ia.id, PEN: ia.pen, Length: ia.len4, Column: i, Type: ia.typ, Name: c.Name, enc: ia.enc}
			f6 := f4
			f6.Length = ia.len6
			if ia.typ == TypeIPv4 {
				f6.Type = TypeIPv6
				f6.ID = map[uint16]uint16{ieSourceIPv4Address: ieSourceIPv6Address, ieDestIPv4Address: ieDestIPv6Address}[ia.id]
			}
			s.V4, s.V6 = append(s.V4, f4), append(s.V6, f6)
			continue
		}
		id := StaticID(c.Name)
		if id == 0 {
			id = dyn
			dyn++
		}
		f := enterpriseField(c, i, id)
		s.V4, s.V6 = append(s.V4, f), append(s.V6, f)
		if c.Name == "expiration_id" && c.Kind == features.KindInt {
			e := Field{ID: ieFlowEndReason, Length: 1, Column: i, Type: TypeUnsigned8, Name: "flowEndReason", enc: encEndReason}
			s.V4, s.V6 = append(s.V4, e), append(s.V6, e)
		}
	}
	return s
}

// enterpriseField is the field of a column under EnterpriseNumber.
func enterpriseField(c *features.Column, i int, id uint16) Field {
	f := Field{ID: id, PEN: EnterpriseNumber, Column: i, Name: c.Name}
	bytesOf := func(bits uint8) uint16 {
		switch bits {
		case 8:
			return 1
		case 16:
			return 2
		case 32:
			return 4
		}
		return 8
	}
	switch c.Kind {
	case features.KindUint:
		f.Length, f.enc = bytesOf(c.Bits), encColumnUint
		f.Type = map[uint16]uint8{1: TypeUnsigned8, 2: TypeUnsigned16, 4: TypeUnsigned32, 8: TypeUnsigned64}[f.Length]
	case features.KindInt:
		f.Length, f.enc = bytesOf(c.Bits), encColumnInt
		f.Type = map[uint16]uint8{1: TypeSigned8, 2: TypeSigned16, 4: TypeSigned32, 8: TypeSigned64}[f.Length]
	case features.KindFloat:
		f.Length, f.Type, f.enc = 8, TypeFloat64, encColumnFloat
	case features.KindString:
		f.Length, f.Type, f.enc = Variable, TypeString, encColumnString
	case features.KindList:
		// A basicList (IANA 291) whose items are this element.
		f.Item = map[uint16]uint8{1: TypeSigned8, 2: TypeSigned16, 4: TypeSigned32, 8: TypeSigned64}[bytesOf(c.Bits)]
		f.ItemID, f.ID, f.PEN = id, ieBasicList, 0
		f.Length, f.Type, f.enc = Variable, TypeBasicList, encColumnList
	default: // KindValue: the value as NFStream's CSV writes it
		f.Length, f.Type, f.enc = Variable, TypeString, encValue
	}
	return f
}

// itemLen is the size of one item of a basicList of type t.
func itemLen(t uint8) int {
	switch t {
	case TypeSigned8:
		return 1
	case TypeSigned16:
		return 2
	case TypeSigned32:
		return 4
	}
	return 8
}
