package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
)

// requireTcpdump returns tcpdump's path, or skips the test.
func requireTcpdump(t *testing.T) string {
	t.Helper()
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed (apt-get install -y tcpdump); it is the libpcap reference")
	}
	version, _ := exec.Command(tcpdump, "--version").CombinedOutput()
	if !bytes.Contains(version, []byte("libpcap version 1.10")) {
		t.Logf("tcpdump is not linked with libpcap 1.10, the reference version:\n%s", version)
	}
	return tcpdump
}

// corpusDir is where CI and developers have the NFStream test captures:
// <repo>/../shared/corpus, seen from this package's directory.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "nfstream", "pcaps")

// TestCorpusAgainstLibpcap is the independent check against real libpcap:
// tcpdump -r FILE -w OUT.pcap makes libpcap read each corpus capture and
// write what it read as a plain microsecond pcap. Our reader, on the
// original file, must deliver the same records (timestamps, lengths, bytes,
// link type), in the same number, and end with io.EOF where tcpdump
// succeeded and with an error where libpcap failed.
func TestCorpusAgainstLibpcap(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(files) == 0 {
		t.Skipf("corpus not found at %s (it lives at <repo>/../shared/corpus)", corpusDir)
	}
	tcpdump := requireTcpdump(t)
	sort.Strings(files)
	matched, records, failed := compareAll(t, tcpdump, files)
	t.Logf("%d of %d corpus captures match libpcap record for record (%d records; %d where libpcap stops with an error)",
		matched, len(files), records, failed)
}

// TestMutationsAgainstLibpcap runs the same comparison on damaged files:
// the fuzz seeds, mutated deterministically (bytes changed, cut, inserted,
// length fields overwritten). Where libpcap stops with an error, we must
// deliver the same records and then fail too.
func TestMutationsAgainstLibpcap(t *testing.T) {
	tcpdump := requireTcpdump(t)
	files := mutatedFiles(t, 300)
	matched, records, failed := compareAll(t, tcpdump, files)
	t.Logf("%d of %d mutated files match libpcap (%d records; %d where libpcap fails)", matched, len(files), records, failed)
}

// mutatedFiles writes n damaged files, made deterministically from the fuzz
// seeds, into a temporary directory and returns their paths.
func mutatedFiles(t *testing.T, n int) []string {
	t.Helper()
	seeds := append(pcapSeeds(), pcapngSeeds()...)
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	var files []string
	for i := range n {
		data := mutate(rng, seeds[i%len(seeds)])
		name := filepath.Join(dir, fmt.Sprintf("m%03d", i))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	return files
}

// mutate returns a damaged copy of seed.
func mutate(rng *rand.Rand, seed []byte) []byte {
	b := bytes.Clone(seed)
	for range 1 + rng.IntN(2) {
		switch rng.IntN(4) {
		case 0:
			if len(b) > 0 {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
		case 1:
			b = b[:rng.IntN(len(b)+1)]
		case 2:
			i := rng.IntN(len(b) + 1)
			b = append(b[:i], append(bytes.Repeat([]byte{byte(rng.IntN(256))}, 1+rng.IntN(7)), b[i:]...)...)
		case 3:
			if len(b) >= 4 {
				values := []uint32{0, 12, 13, 16, 28, 1 << 31, 0xFFFFFFFF, 16 << 20, 262145}
				i := rng.IntN(len(b) - 3)
				binary.LittleEndian.PutUint32(b[i:], values[rng.IntN(len(values))])
			}
		}
	}
	return b
}

// compareAll compares every file with tcpdump's reading of it, a few at a
// time, reports each mismatch, and returns how many matched, the records
// compared, and how many files libpcap failed on.
func compareAll(t *testing.T, tcpdump string, files []string) (matched, records, failed int) {
	out := t.TempDir()

	type result struct {
		name     string
		records  int
		failed   bool // libpcap reported an error
		mismatch error
	}
	results := make([]result, len(files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(runtime.GOMAXPROCS(0), 2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = result{name: filepath.Base(files[i])}
				r := &results[i]
				r.records, r.failed, r.mismatch = compareWithTcpdump(tcpdump, files[i], filepath.Join(out, fmt.Sprintf("%d.pcap", i)))
			}
		}()
	}
	for i := range files {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	for _, r := range results {
		if r.mismatch != nil {
			t.Errorf("%s: %v", r.name, r.mismatch)
			continue
		}
		matched++
		records += r.records
		if r.failed {
			failed++
		}
	}
	return matched, records, failed
}

// compareWithTcpdump runs tcpdump on file and compares its output with our
// reader. It returns the number of records compared, whether libpcap
// failed on the file, and the first difference.
func compareWithTcpdump(tcpdump, file, outFile string) (int, bool, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(tcpdump, "-r", file, "-w", outFile)
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return 0, false, fmt.Errorf("running tcpdump: %v", runErr)
	}
	libpcapFailed := runErr != nil

	ref, readErr := os.ReadFile(outFile)
	if readErr != nil {
		if !libpcapFailed {
			return 0, false, fmt.Errorf("tcpdump wrote nothing: %v", readErr)
		}
		src, err := Open(file)
		if err == nil {
			src.Close()
		}
		// tcpdump says "reading from file" once pcap_open_offline
		// succeeded; it then writes nothing for a link type it has no
		// LINKTYPE_ for. Then we must open the file too, and there
		// are no records to compare.
		opened := bytes.Contains(stderr.Bytes(), []byte("reading from file"))
		switch {
		case opened && err != nil:
			return 0, true, fmt.Errorf("libpcap opens it, we do not: %v", err)
		case !opened && err == nil:
			return 0, true, fmt.Errorf("libpcap cannot open it (%s) but we can", bytes.TrimSpace(stderr.Bytes()))
		}
		return 0, true, nil
	}
	want, snaplen, linktype, err := readPlainPcap(ref)
	if err != nil {
		return 0, libpcapFailed, fmt.Errorf("tcpdump's output: %v", err)
	}

	src, err := Open(file)
	if err != nil {
		return 0, libpcapFailed, fmt.Errorf("libpcap opens it, we do not: %v", err)
	}
	defer src.Close()
	if s := snapshotOf(src); s != snaplen {
		return 0, libpcapFailed, fmt.Errorf("snapshot length %d; libpcap %d", s, snaplen)
	}
	var p Packet
	for i, w := range want {
		if err := src.Next(&p); err != nil {
			return i, libpcapFailed, fmt.Errorf("record %d: %v; libpcap delivers %d records", i, err, len(want))
		}
		// pcap_dump stores tv_sec and tv_usec as 32-bit values, and the
		// link type as LINKTYPE_ (dlt_to_linktype of the DLT_ read).
		if lt := dltToLinktype(linktypeToDLT(uint32(p.LinkType))); int32(p.Sec) != w.sec || int32(p.Usec) != w.usec ||
			p.CapLen != w.caplen || p.Len != w.length || lt != linktype || !bytes.Equal(p.Data, w.data) {
			return i, libpcapFailed, fmt.Errorf("record %d: got sec %d usec %d caplen %d len %d linktype %d (%d bytes); libpcap sec %d usec %d caplen %d len %d linktype %d (%d bytes, equal: %v)",
				i, p.Sec, p.Usec, p.CapLen, p.Len, lt, len(p.Data), w.sec, w.usec, w.caplen, w.length, linktype, len(w.data), bytes.Equal(p.Data, w.data))
		}
	}
	err = src.Next(&p)
	switch {
	case libpcapFailed && err == io.EOF:
		return len(want), true, fmt.Errorf("clean end after %d records; libpcap fails: %s", len(want), bytes.TrimSpace(stderr.Bytes()))
	case libpcapFailed:
		var fe *FormatError
		if !errors.As(err, &fe) {
			return len(want), true, fmt.Errorf("error %v is not a *FormatError", err)
		}
	case err != io.EOF:
		return len(want), false, fmt.Errorf("after %d records: %v; libpcap ends cleanly", len(want), err)
	}
	return len(want), libpcapFailed, nil
}

// snapshotOf returns the snapshot length our reader settled on, which
// tcpdump writes into its output header.
func snapshotOf(src Source) uint32 {
	switch r := src.(type) {
	case *pcapReader:
		return r.snapshot
	case *pcapngReader:
		return r.snapshot
	}
	return 0
}

type plainRecord struct {
	sec, usec      int32
	caplen, length uint32
	data           []byte
}

// readPlainPcap is a deliberately trivial reader for the files pcap_dump
// writes: host (little-endian) order, microseconds, 16-byte record headers.
func readPlainPcap(b []byte) (recs []plainRecord, snaplen, linktype uint32, err error) {
	le := binary.LittleEndian
	if len(b) < 24 || le.Uint32(b) != 0xa1b2c3d4 {
		return nil, 0, 0, errors.New("not a little-endian microsecond pcap")
	}
	snaplen, linktype = le.Uint32(b[16:]), le.Uint32(b[20:])&linkTypeMask
	for b = b[24:]; len(b) > 0; {
		if len(b) < 16 {
			return nil, 0, 0, errors.New("cut record header")
		}
		r := plainRecord{sec: int32(le.Uint32(b)), usec: int32(le.Uint32(b[4:])), caplen: le.Uint32(b[8:]), length: le.Uint32(b[12:])}
		if uint32(len(b)-16) < r.caplen {
			return nil, 0, 0, errors.New("cut record")
		}
		r.data = b[16 : 16+r.caplen]
		recs = append(recs, r)
		b = b[16+r.caplen:]
	}
	return recs, snaplen, linktype, nil
}

// dltToLinktype is libpcap's dlt_to_linktype on Linux, the inverse of
// linktypeToDLT, as pcap_dump_open uses it.
func dltToLinktype(dlt uint32) uint32 {
	switch dlt {
	case 11:
		return 100
	case 12:
		return 101
	case 15:
		return 102
	case 16:
		return 103
	case 19:
		return 106
	}
	return dlt
}
