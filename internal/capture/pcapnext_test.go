package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pcapNextEx is a C program that prints what libpcap's pcap_next_ex
// returns for each file named on its command line: the DLT_ and snapshot
// length after pcap_open_offline, then per record the full 64-bit tv_sec
// and tv_usec, caplen, len and an FNV-1a hash of the data, then EOF or ERR.
// Unlike tcpdump -w, which stores 32-bit timestamps, it shows how libpcap
// extends them.
const pcapNextEx = `#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
	char errbuf[PCAP_ERRBUF_SIZE];
	for (int i = 1; i < argc; i++) {
		printf("FILE %s\n", argv[i]);
		pcap_t *p = pcap_open_offline(argv[i], errbuf);
		if (p == NULL) {
			printf("OPENERR\n");
			continue;
		}
		printf("OPEN %d %d\n", pcap_datalink(p), pcap_snapshot(p));
		struct pcap_pkthdr *h;
		const u_char *d;
		int rc;
		while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
			uint64_t x = 14695981039346656037ULL;
			for (bpf_u_int32 j = 0; j < h->caplen; j++) {
				x ^= d[j];
				x *= 1099511628211ULL;
			}
			printf("PKT %lld %lld %u %u %016llx\n", (long long)h->ts.tv_sec,
			    (long long)h->ts.tv_usec, h->caplen, h->len, (unsigned long long)x);
		}
		printf(rc == PCAP_ERROR_BREAK ? "EOF\n" : "ERR\n");
		pcap_close(p);
	}
	return 0;
}
`

// TestAgainstPcapNextEx compares our reader with libpcap's own API, called
// from a small C program built here against the system's libpcap (Debian's
// libpcap-dev; skipped without a C compiler or the header). It covers the
// mutated files, the fuzz seeds and, when present, the corpus.
func TestAgainstPcapNextEx(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler: cannot build the pcap_next_ex reference (apt-get install -y gcc libpcap-dev)")
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "pcapnext.c"), filepath.Join(dir, "pcapnext")
	if err := os.WriteFile(src, []byte(pcapNextEx), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O1", "-o", bin, src, "-lpcap").CombinedOutput(); err != nil {
		t.Skipf("cannot build the pcap_next_ex reference (apt-get install -y libpcap-dev): %v\n%s", err, out)
	}

	files := mutatedFiles(t, 300)
	for i, seed := range append(pcapSeeds(), pcapngSeeds()...) {
		name := filepath.Join(dir, fmt.Sprintf("seed%02d", i))
		if err := os.WriteFile(name, seed, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	if corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*")); len(corpus) > 0 {
		files = append(files, corpus...)
	} else {
		t.Logf("corpus not found at %s; comparing synthetic files only", corpusDir)
	}

	out, err := exec.Command(bin, files...).Output()
	if err != nil {
		t.Fatalf("pcap_next_ex reference: %v", err)
	}
	want := splitByFile(t, out)
	records := 0
	for _, f := range files {
		got := describe(t, f)
		if got != want[f] {
			t.Errorf("%s: libpcap and we differ:\n%s", f, lineDiff(want[f], got))
		}
		records += strings.Count(got, "PKT ")
	}
	t.Logf("%d files (%d records) read alike by pcap_next_ex and by us", len(files), records)
}

// splitByFile cuts the reference's output into one text per file.
func splitByFile(t *testing.T, out []byte) map[string]string {
	texts := make(map[string]string)
	var name string
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "FILE "); ok {
			if name != "" {
				texts[name] = b.String()
			}
			name = f
			b.Reset()
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if name != "" {
		texts[name] = b.String()
	}
	return texts
}

// describe reads a file with our reader and prints it as the reference does.
func describe(t *testing.T, name string) string {
	var b strings.Builder
	src, err := Open(name)
	if err != nil {
		checkFileError(t, name, err)
		return "OPENERR\n"
	}
	defer src.Close()
	var dlt uint32
	switch r := src.(type) {
	case *pcapReader:
		dlt = linktypeToDLT(uint32(r.link))
	case *pcapngReader:
		dlt = r.dlt
	}
	fmt.Fprintf(&b, "OPEN %d %d\n", dlt, snapshotOf(src))
	var p Packet
	for {
		err := src.Next(&p)
		if err == io.EOF {
			b.WriteString("EOF\n")
			break
		}
		if err != nil {
			checkFileError(t, name, err)
			b.WriteString("ERR\n")
			break
		}
		if d := linktypeToDLT(uint32(p.LinkType)); d != dlt {
			fmt.Fprintf(&b, "LINKTYPE %d\n", d)
		}
		h := fnv.New64a()
		h.Write(p.Data)
		fmt.Fprintf(&b, "PKT %d %d %d %d %016x\n", p.Sec, p.Usec, p.CapLen, p.Len, h.Sum64())
	}
	return b.String()
}

func checkFileError(t *testing.T, name string, err error) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Name != name {
		t.Errorf("%s: error %v is not a *FormatError naming the file", name, err)
	}
}

// lineDiff shows the first differing line of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d: libpcap %q, ours %q", i+1, wl, gl)
		}
	}
	return "(same)"
}
