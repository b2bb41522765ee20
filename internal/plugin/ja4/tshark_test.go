package ja4

// The independent side of the capture tests: tshark decodes the
// ClientHellos (reassembling TCP and decrypting QUIC Initials by itself),
// and specJA4 assembles the fingerprint from tshark's fields. specJA4 is
// written from the JA4 specification (https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md) on its
// own, sharing no code with the package.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tsharkHello is one ClientHello as tshark decoded it; numbers are kept as
// tshark prints them (ciphers, versions, signature algorithms in hex,
// extension types in decimal).
type tsharkHello struct {
	key      string // dirKey form
	frame    string
	version  string
	ciphers  []string
	exts     []string
	sigs     []string
	versions []string
	alpn     []string
}

func needTshark(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (scripts/deps.sh installs it)")
	}
	return p
}

// strs returns a JSON value that is a string or an array of strings.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strs(e)...)
		}
		return out
	}
	return nil
}

// objs returns a JSON value that is an object or an array of objects.
func objs(v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}
	case []any:
		var out []map[string]any
		for _, e := range x {
			out = append(out, objs(e)...)
		}
		return out
	}
	return nil
}

// find returns every value under key anywhere below v.
func find(v any, key string) []any {
	var out []any
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == key {
				out = append(out, e)
			} else {
				out = append(out, find(e, key)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, find(e, key)...)
		}
	}
	return out
}

func last(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// tsharkHellos returns the ClientHellos of a capture, in frame order.
func tsharkHellos(t testing.TB, tshark, path string) []tsharkHello {
	t.Helper()
	// "|| quic": with the filter on the handshake type alone, tshark 4.0
	// drops a QUIC ClientHello reassembled from several Initial packets
	// (the packets are kept when the filter names quic, and the
	// ClientHellos are picked out below). Out-of-order TCP reassembly is
	// off by default.
	cmd := exec.Command(tshark, "-o", "tcp.reassemble_out_of_order:TRUE", "-r", path,
		"-Y", "tls.handshake.type == 1 || quic", "-T", "json", "--no-duplicate-keys")
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	var pkts []map[string]any
	if err := json.Unmarshal(raw, &pkts); err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	var out []tsharkHello
	for _, pkt := range pkts {
		lay, _ := find(pkt, "layers")[0].(map[string]any)
		// Tunnels: the innermost IP header, as frame.protocols orders them
		// ("eth:ethertype:ipv6:ip:tcp:tls").
		var src, dst string
		protos := strings.Split(last(strs(find(lay["frame"], "frame.protocols"))), ":")
		inner := ""
		for _, p := range protos {
			if p == "ip" || p == "ipv6" {
				inner = p
			}
		}
		for _, ip := range objs(lay[inner]) {
			if s := strs(ip[inner+".src"]); len(s) > 0 {
				src, dst = last(s), last(strs(ip[inner+".dst"]))
			}
		}
		proto, l4 := byte('t'), "tcp"
		if _, ok := lay["quic"]; ok {
			proto, l4 = 'q', "udp"
		}
		var sport, dport string
		for _, tr := range objs(lay[l4]) {
			sport, dport = last(strs(tr[l4+".srcport"])), last(strs(tr[l4+".dstport"]))
		}
		key := fmt.Sprintf("%c %s:%s>%s:%s", proto, src, sport, dst, dport)
		frame := last(strs(find(lay["frame"], "frame.number")))
		var hellos []map[string]any
		for _, hs := range find(lay, "tls.handshake") {
			for _, m := range objs(hs) {
				if last(strs(m["tls.handshake.type"])) == "1" {
					hellos = append(hellos, m)
				}
			}
		}
		for _, m := range hellos {
			h := tsharkHello{key: key, frame: frame, version: last(strs(m["tls.handshake.version"]))}
			for _, c := range find(m["tls.handshake.ciphersuites"], "tls.handshake.ciphersuite") {
				h.ciphers = append(h.ciphers, strs(c)...)
			}
			for k, v := range m {
				if !strings.HasPrefix(k, "Extension: ") {
					continue
				}
				for _, e := range objs(v) {
					typ := last(strs(e["tls.handshake.extension.type"]))
					h.exts = append(h.exts, typ)
					switch typ {
					case "13":
						for _, s := range find(e["tls.handshake.sig_hash_algs"], "tls.handshake.sig_hash_alg") {
							h.sigs = append(h.sigs, strs(s)...)
						}
					case "16":
						for _, s := range find(e, "tls.handshake.extensions_alpn_str") {
							h.alpn = append(h.alpn, strs(s)...)
						}
					case "43":
						h.versions = append(h.versions, strs(e["tls.handshake.extensions.supported_version"])...)
					}
				}
			}
			out = append(out, h)
		}
	}
	return out
}

// specJA4 assembles JA4 from tshark's fields, step by step as the JA4
// specification describes it.
func specJA4(proto byte, h tsharkHello) string {
	num := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 0, 16) // "0x1301" or "65281"
		if err != nil {
			panic(fmt.Sprintf("tshark value %q: %v", s, err))
		}
		return v
	}
	// "The program needs to ignore GREASE values anywhere it sees them":
	// 0x0a0a, 0x1a1a, ..., 0xfafa.
	grease := func(v uint64) bool { return v>>8 == v&0xff && v&0x0f == 0x0a }
	clean := func(in []string) []uint64 {
		var out []uint64
		for _, s := range in {
			if v := num(s); !grease(v) {
				out = append(out, v)
			}
		}
		return out
	}
	ciphers, exts, sigs := clean(h.ciphers), clean(h.exts), clean(h.sigs)

	// TLS version: the highest supported_versions value, else the hello's.
	version := num(h.version)
	if vs := clean(h.versions); len(vs) > 0 {
		version = 0
		for _, v := range vs {
			version = max(version, v)
		}
	}
	ver := map[uint64]string{0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}[version]
	if ver == "" {
		ver = "00"
	}
	sni := "i"
	for _, e := range exts {
		if e == 0 {
			sni = "d"
		}
	}
	two := func(n int) string {
		if n > 99 {
			n = 99
		}
		return fmt.Sprintf("%02d", n)
	}
	alpn := "00"
	if len(h.alpn) > 0 && h.alpn[0] != "" {
		p := h.alpn[0]
		alnum := func(c byte) bool {
			return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		}
		if alnum(p[0]) && alnum(p[len(p)-1]) {
			alpn = p[:1] + p[len(p)-1:]
		} else {
			x := hex.EncodeToString([]byte(p))
			alpn = x[:1] + x[len(x)-1:]
		}
	}
	a := string(proto) + ver + sni + two(len(ciphers)) + two(len(exts)) + alpn

	list := func(vs []uint64) string {
		var parts []string
		for _, v := range vs {
			parts = append(parts, fmt.Sprintf("%04x", v))
		}
		return strings.Join(parts, ",")
	}
	trunc := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])[:12]
	}
	sort.Slice(ciphers, func(i, j int) bool { return ciphers[i] < ciphers[j] })
	b := "000000000000"
	if len(ciphers) > 0 {
		b = trunc(list(ciphers))
	}
	var kept []uint64
	for _, e := range exts {
		if e != 0x0000 && e != 0x0010 {
			kept = append(kept, e)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i] < kept[j] })
	c := "000000000000"
	if len(kept) > 0 {
		s := list(kept)
		if len(sigs) > 0 {
			s += "_" + list(sigs)
		}
		c = trunc(s)
	}
	return a + "_" + b + "_" + c
}
