package features

import (
	"net/netip"
	"strconv"
)

// Kind is the type of a column's values.
type Kind uint8

// Column kinds.
const (
	KindUint   Kind = iota // unsigned integer (counters, timestamps, ports)
	KindInt                // signed integer
	KindFloat              // float64
	KindString             // text
	KindList               // list of integers (SPLT)
	// KindValue is a plugin's udps column: Record.UDPS value UDPS (nil,
	// int64, float64, bool, string or []any), ValueType the type the first
	// flow's value gave it (see ValueType).
	KindValue
)

// ValueType is the type of a KindValue column, decided by the first
// exported flow's value, for typed sinks (Parquet).
type ValueType uint8

// Value types; ValueNone is a column whose first value was None.
const (
	ValueNone ValueType = iota
	ValueInt
	ValueFloat
	ValueBool
	ValueString
	ValueList
)

// Column is one output column: its NFStream name, its kind and how its value
// is read from a Record. Exactly the accessor matching Kind is set.
type Column struct {
	Name string
	Kind Kind
	// Bits is the width of the values of an integer column, or of the
	// elements of a list column (8, 16, 32 or 64), so typed sinks such as
	// Parquet can store ports as uint16 and protocols as uint8.
	Bits  uint8
	Uint  func(*Record) uint64
	Int   func(*Record) int64
	Float func(*Record) float64
	// String appends the value's text to dst.
	String func(r *Record, dst []byte) []byte
	// List returns the i-th element; ListLen the number of elements.
	List    func(r *Record, i int) int64
	ListLen func(r *Record) int
	// UDPS is the udps name of a KindValue column (its Name is
	// "udps."+UDPS), ValueType its type and Elem its elements' type for a
	// list.
	UDPS            string
	ValueType, Elem ValueType
	// AfterPlugins places the column after the udps columns, which are
	// only known at the first flow (the system visibility columns, last
	// as in NFStream).
	AfterPlugins bool
}

// Schema selects the column groups of an output.
type Schema struct {
	// Tunnel adds tunnel_id (NFStream adds it when decode_tunnels is on).
	Tunnel bool
	Stats  bool
	SPLT   bool
	// L7 adds NFStream's nine nDPI columns (n_dissections > 0).
	L7 bool
	// System adds the system visibility columns (docs/system-visibility.md).
	System SystemColumns
}

// SystemColumns selects the system visibility columns.
type SystemColumns uint8

const (
	// SystemOff: no system visibility columns.
	SystemOff SystemColumns = iota
	// SystemBasic: NFStream's two, system_process_pid and
	// system_process_name.
	SystemBasic
	// SystemFull: those two, the owner's uid, executable and command
	// line, and the same five for the owner of the flow's other end when
	// both ends are local processes.
	SystemFull
)

// Columns returns the columns of s in NFStream's order.
func (s Schema) Columns() []Column {
	cols := []Column{
		uintCol("id", func(r *Record) uint64 { return r.ID }),
		{Name: "expiration_id", Kind: KindInt, Bits: 8, Int: func(r *Record) int64 { return int64(r.ExpirationID) }},
		strCol("src_ip", func(r *Record, b []byte) []byte { return AppendIP(b, r.IPVersion, r.SrcIP) }),
		strCol("src_mac", func(r *Record, b []byte) []byte { return appendMAC(b, r.SrcMAC[:]) }),
		strCol("src_oui", func(r *Record, b []byte) []byte { return appendMAC(b, r.SrcMAC[:3]) }),
		narrow(uintCol("src_port", func(r *Record) uint64 { return uint64(r.SrcPort) }), 16),
		strCol("dst_ip", func(r *Record, b []byte) []byte { return AppendIP(b, r.IPVersion, r.DstIP) }),
		strCol("dst_mac", func(r *Record, b []byte) []byte { return appendMAC(b, r.DstMAC[:]) }),
		strCol("dst_oui", func(r *Record, b []byte) []byte { return appendMAC(b, r.DstMAC[:3]) }),
		narrow(uintCol("dst_port", func(r *Record) uint64 { return uint64(r.DstPort) }), 16),
		narrow(uintCol("protocol", func(r *Record) uint64 { return uint64(r.Protocol) }), 8),
		narrow(uintCol("ip_version", func(r *Record) uint64 { return uint64(r.IPVersion) }), 8),
		narrow(uintCol("vlan_id", func(r *Record) uint64 { return uint64(r.VlanID) }), 16),
	}
	if s.Tunnel {
		cols = append(cols, narrow(uintCol("tunnel_id", func(r *Record) uint64 { return uint64(r.TunnelID) }), 8))
	}
	scopes := []struct {
		name string
		dir  func(*Record) *Direction
	}{
		{"bidirectional", func(r *Record) *Direction { return &r.Bidirectional }},
		{"src2dst", func(r *Record) *Direction { return &r.Src2Dst }},
		{"dst2src", func(r *Record) *Direction { return &r.Dst2Src }},
	}
	for _, sc := range scopes {
		dir := sc.dir
		cols = append(cols,
			uintCol(sc.name+"_first_seen_ms", func(r *Record) uint64 { return dir(r).FirstSeenMS }),
			uintCol(sc.name+"_last_seen_ms", func(r *Record) uint64 { return dir(r).LastSeenMS }),
			uintCol(sc.name+"_duration_ms", func(r *Record) uint64 { return dir(r).DurationMS() }),
			uintCol(sc.name+"_packets", func(r *Record) uint64 { return dir(r).Packets }),
			uintCol(sc.name+"_bytes", func(r *Record) uint64 { return dir(r).Bytes }),
		)
	}
	if s.Stats {
		for _, sc := range scopes {
			dir := sc.dir
			cols = append(cols,
				uintCol(sc.name+"_min_ps", func(r *Record) uint64 { return uint64(dir(r).PS.Min) }),
				floatCol(sc.name+"_mean_ps", func(r *Record) float64 { return dir(r).PS.Mean }),
				floatCol(sc.name+"_stddev_ps", func(r *Record) float64 { d := dir(r); return d.PS.Stddev(d.Packets) }),
				uintCol(sc.name+"_max_ps", func(r *Record) uint64 { return uint64(dir(r).PS.Max) }),
			)
		}
		for _, sc := range scopes {
			dir := sc.dir
			cols = append(cols,
				uintCol(sc.name+"_min_piat_ms", func(r *Record) uint64 { return dir(r).PIAT.Min }),
				floatCol(sc.name+"_mean_piat_ms", func(r *Record) float64 { return dir(r).PIAT.Mean }),
				floatCol(sc.name+"_stddev_piat_ms", func(r *Record) float64 { return dir(r).PIATStddev() }),
				uintCol(sc.name+"_max_piat_ms", func(r *Record) uint64 { return dir(r).PIAT.Max }),
			)
		}
		flagNames := [numFlags]string{"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"}
		for scope, sc := range scopes {
			for f, name := range flagNames {
				cols = append(cols, uintCol(sc.name+"_"+name+"_packets", func(r *Record) uint64 { return r.FlagPackets(scope, f) }))
			}
		}
	}
	if s.SPLT {
		cols = append(cols,
			narrow(listCol("splt_direction", func(r *Record, i int) int64 { return int64(r.SPLTDirection[i]) }), 8),
			narrow(listCol("splt_ps", func(r *Record, i int) int64 { return int64(r.SPLTPS[i]) }), 32),
			listCol("splt_piat_ms", func(r *Record, i int) int64 { return r.SPLTPIAT[i] }),
		)
	}
	if s.L7 {
		cols = append(cols,
			strCol("application_name", func(r *Record, b []byte) []byte { return append(b, r.l7().Application...) }),
			strCol("application_category_name", func(r *Record, b []byte) []byte { return append(b, r.l7().Category...) }),
			narrow(uintCol("application_is_guessed", func(r *Record) uint64 { return uint64(r.l7().Guessed) }), 8),
			narrow(uintCol("application_confidence", func(r *Record) uint64 { return uint64(r.l7().Confidence) }), 8),
			strCol("requested_server_name", func(r *Record, b []byte) []byte { return append(b, r.l7().RequestedServerName...) }),
			strCol("client_fingerprint", func(r *Record, b []byte) []byte { return append(b, r.l7().ClientFingerprint...) }),
			strCol("server_fingerprint", func(r *Record, b []byte) []byte { return append(b, r.l7().ServerFingerprint...) }),
			strCol("user_agent", func(r *Record, b []byte) []byte { return append(b, r.l7().UserAgent...) }),
			strCol("content_type", func(r *Record, b []byte) []byte { return append(b, r.l7().ContentType...) }),
		)
	}
	return s.appendSystem(cols)
}

// appendSystem adds the system visibility columns.
func (s Schema) appendSystem(cols []Column) []Column {
	if s.System == SystemOff {
		return cols
	}
	type side struct {
		prefix string
		owner  func(*Record) *ProcessOwner
	}
	sides := []side{{"system_process", func(r *Record) *ProcessOwner { return &r.process().Owner }}}
	if s.System == SystemFull {
		sides = append(sides, side{"system_peer", func(r *Record) *ProcessOwner { return &r.process().Peer }})
	}
	start := len(cols)
	for _, sd := range sides {
		owner := sd.owner
		cols = append(cols,
			Column{Name: sd.prefix + "_pid", Kind: KindInt, Bits: 32, Int: func(r *Record) int64 { return owner(r).PID }},
			strCol(sd.prefix+"_name", func(r *Record, b []byte) []byte { return append(b, owner(r).Name...) }),
		)
		if s.System == SystemFull {
			cols = append(cols,
				Column{Name: sd.prefix + "_uid", Kind: KindInt, Bits: 64, Int: func(r *Record) int64 { return owner(r).UID }},
				strCol(sd.prefix+"_exe", func(r *Record, b []byte) []byte { return append(b, owner(r).Exe...) }),
				strCol(sd.prefix+"_cmdline", func(r *Record, b []byte) []byte { return append(b, owner(r).Cmdline...) }),
			)
		}
	}
	for i := start; i < len(cols); i++ {
		cols[i].AfterPlugins = true
	}
	return cols
}

// narrow sets the value width of an integer or list column.
func narrow(c Column, bits uint8) Column {
	c.Bits = bits
	return c
}

func uintCol(name string, f func(*Record) uint64) Column {
	return Column{Name: name, Kind: KindUint, Bits: 64, Uint: f}
}

func floatCol(name string, f func(*Record) float64) Column {
	return Column{Name: name, Kind: KindFloat, Float: f}
}

func strCol(name string, f func(*Record, []byte) []byte) Column {
	return Column{Name: name, Kind: KindString, String: f}
}

func listCol(name string, f func(*Record, int) int64) Column {
	return Column{Name: name, Kind: KindList, Bits: 64, List: f, ListLen: func(r *Record) int { return len(r.SPLTDirection) }}
}

const hexDigits = "0123456789abcdef"

// appendMAC appends b as lower-case hex octets separated by colons.
func appendMAC(dst, b []byte) []byte {
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// AppendIP appends the text of an address as glibc's inet_ntop writes it
// (NFStream's src_ip/dst_ip): dotted quad for IPv4; for IPv6 the RFC 5952
// compressed form, except that IPv4-compatible (::a.b.c.d) and IPv4-mapped
// (::ffff:a.b.c.d) addresses end in a dotted quad.
func AppendIP(dst []byte, version uint8, a [16]byte) []byte {
	if version == 4 {
		return netip.AddrFrom4([4]byte(a[:4])).AppendTo(dst)
	}
	zero12 := true
	for _, c := range a[:12] {
		if c != 0 {
			zero12 = false
			break
		}
	}
	// glibc prints the embedded IPv4 form when the longest zero run is the
	// first six words (word 6 non-zero), or the first five with ffff next.
	if zero12 && (a[12] != 0 || a[13] != 0) {
		dst = append(dst, "::"...)
		return appendDotted(dst, a[12:])
	}
	return netip.AddrFrom16(a).AppendTo(dst)
}

func appendDotted(dst, b []byte) []byte {
	for i, c := range b {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendUint(dst, uint64(c), 10)
	}
	return dst
}
