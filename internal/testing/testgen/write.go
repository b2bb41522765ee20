package testgen

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// defaultSnapLen is the snapshot length written in file headers.
const defaultSnapLen = 262144

// Capture is a built scenario: the capture file and what NFStream should
// make of it.
type Capture struct {
	Scenario Scenario
	// File holds the capture file's bytes.
	File []byte
	// Expected is the content of the expected-results file.
	Expected Expected
}

// FileName is the capture's file name: the scenario name and the format's
// extension.
func (c *Capture) FileName() string { return c.Scenario.Name + c.Scenario.Format.Ext() }

// ExpectedName is the name of the expected-results file.
func (c *Capture) ExpectedName() string { return c.Scenario.Name + ".expected.json" }

// ExpectedJSON is the expected-results file's content: indented JSON with a
// final newline.
func (c *Capture) ExpectedJSON() ([]byte, error) {
	b, err := json.MarshalIndent(c.Expected, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Build makes the capture file of s and computes the flows NFStream should
// report for it.
func Build(s Scenario) (*Capture, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b := &builder{s: &s, r: rng{s: seedOf(s.Name)}}
	if err := b.build(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := encode(&buf, &s, b.frames); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	flows, ignored := expect(b.frames)
	c := &Capture{Scenario: s, File: buf.Bytes()}
	c.Expected = Expected{
		Capture:               c.FileName(),
		Description:           s.Description,
		Format:                s.Format.String(),
		LinkType:              s.Link.LinkType(),
		IdleTimeoutMs:         IdleTimeoutMs,
		ActiveTimeoutMs:       ActiveTimeoutMs,
		NFStreamYieldsNothing: s.NFStreamYieldsNothing,
		Notes:                 s.Notes,
		Packets:               len(b.frames),
		IgnoredPackets:        len(ignored),
		Ignored:               ignored,
		Flows:                 flows,
	}
	return c, nil
}

// encode writes the frames in the scenario's file format.
func encode(w io.Writer, s *Scenario, frames []frame) error {
	snap := uint32(defaultSnapLen)
	if s.SnapLen > 0 {
		snap = uint32(s.SnapLen)
	}
	lt := layers.LinkType(s.Link.LinkType())
	ci := func(fr *frame) gopacket.CaptureInfo {
		return gopacket.CaptureInfo{Timestamp: fr.ts, CaptureLength: len(fr.data), Length: fr.origLen, InterfaceIndex: fr.iface}
	}
	switch s.Format {
	case PcapMicro, PcapNano:
		pw := pcapgo.NewWriter(w)
		if s.Format == PcapNano {
			pw = pcapgo.NewWriterNanos(w)
		}
		if err := pw.WriteFileHeader(snap, lt); err != nil {
			return err
		}
		for i := range frames {
			if err := pw.WritePacket(ci(&frames[i]), frames[i].data); err != nil {
				return err
			}
		}
		return nil
	case PcapBigEndian:
		return writeBigEndian(w, snap, uint32(lt), frames)
	case PcapNG:
		// Explicit section and interface options: the defaults name the
		// host's OS and architecture, which would make files differ.
		opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "nfstream-go testgen"}}
		intf := pcapgo.NgInterface{Name: "eth0", LinkType: lt, SnapLength: snap, TimestampResolution: 9}
		nw, err := pcapgo.NewNgWriterInterface(w, intf, opts)
		if err != nil {
			return err
		}
		for i := 1; i < s.Interfaces; i++ {
			intf.Name = fmt.Sprintf("eth%d", i)
			if _, err := nw.AddInterface(intf); err != nil {
				return err
			}
		}
		for i := range frames {
			if err := nw.WritePacket(ci(&frames[i]), frames[i].data); err != nil {
				return err
			}
		}
		return nw.Flush()
	}
	return fmt.Errorf("unknown format %d", s.Format)
}

// writeBigEndian writes a classic pcap as a big-endian host does (pcapgo
// only writes little-endian). File header, 24 bytes, then per record a
// 16-byte header and the data, every field big-endian:
//
//	magic 0xa1b2c3d4 | version 2 | 4 | thiszone 0 | sigfigs 0 | snaplen | linktype
//	ts_sec | ts_usec | caplen | len | data...
func writeBigEndian(w io.Writer, snap, linkType uint32, frames []frame) error {
	be := binary.BigEndian
	h := pcapFileHeader(be, snap, linkType)
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	for i := range frames {
		fr := &frames[i]
		var r [16]byte
		be.PutUint32(r[0:], uint32(fr.ts.Unix()))
		be.PutUint32(r[4:], uint32(fr.ts.Nanosecond()/1000))
		be.PutUint32(r[8:], uint32(len(fr.data)))
		be.PutUint32(r[12:], uint32(fr.origLen))
		if _, err := w.Write(r[:]); err != nil {
			return err
		}
		if _, err := w.Write(fr.data); err != nil {
			return err
		}
	}
	return nil
}

// pcapFileHeader is a classic pcap file header in the given byte order:
// magic, version 2.4, zone 0, sigfigs 0, snaplen and link type.
func pcapFileHeader(order binary.ByteOrder, snap, linkType uint32) [24]byte {
	var h [24]byte
	order.PutUint32(h[0:], 0xa1b2c3d4)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], snap)
	order.PutUint32(h[20:], linkType)
	return h
}

// BuildAll builds every scenario of the Catalog.
func BuildAll() ([]*Capture, error) {
	var out []*Capture
	for _, s := range Catalog() {
		c, err := Build(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// WriteAll writes every capture of the Catalog into dir with its
// expected-results file, and a README.md listing them. It returns the
// names of the files written.
func WriteAll(dir string) ([]string, error) {
	cs, err := BuildAll()
	if err != nil {
		return nil, err
	}
	var names []string
	write := func(name string, b []byte) error {
		names = append(names, name)
		return os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	for _, c := range cs {
		j, err := c.ExpectedJSON()
		if err != nil {
			return nil, err
		}
		if err := write(c.FileName(), c.File); err != nil {
			return nil, err
		}
		if err := write(c.ExpectedName(), j); err != nil {
			return nil, err
		}
	}
	if err := write("README.md", readme(cs)); err != nil {
		return nil, err
	}
	return names, nil
}

// readme is testdata/README.md: how the files are made and what each
// capture exercises.
func readme(cs []*Capture) []byte {
	var b strings.Builder
	b.WriteString(`# testdata

Generated by ` + "`go run ./scripts/gencaptures`" + ` (or ` + "`go generate ./internal/testing/testgen`" + `) from
the scenarios in internal/testing/testgen/catalog.go. Do not edit these files by hand and do not
add captures from elsewhere: ` + "`go test ./internal/testing/testgen`" + ` fails when a file here differs
from what the generator writes. This README is generated too.

Each capture ` + "`<name>.pcap`" + ` or ` + "`<name>.pcapng`" + ` has beside it ` + "`<name>.expected.json`" + `: the flows
NFStream 6.5.4 should report for it with ` + "`n_meters=1`" + ` and default parameters (idle timeout
120 s, active timeout 1800 s, decode_tunnels on), in output (id) order, computed by the
generator from what it built. Byte columns are for accounting mode 0;
` + "`bytes_by_accounting_mode`" + ` has all four modes, plus mode 1 as it would be if IPv6 counted
its fixed header (it does not). ` + "`packets`" + ` lists each flow's packets (file index, direction,
time, sizes per mode, TCP flags); ` + "`ignored`" + ` lists the records NFStream's parser ignores;
` + "`notes`" + ` name what rests on a reading of NFStream's code rather than on its output.

A large capture for benchmarks (not kept here) comes from
` + "`go run ./scripts/gencaptures -large FILE -packets 3000000 -flows 300000`" + `.

| capture | link type | what it exercises |
|---|---|---|
`)
	for _, c := range cs {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", c.FileName(), c.Scenario.Link.LinkType(), c.Scenario.Description)
	}
	return []byte(b.String())
}
