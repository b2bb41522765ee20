// Command gencaptures writes the project's test captures and their expected
// flows (internal/testing/testgen) into a directory, testdata/ by default, or, with
// -large, one large capture for benchmarks.
//
//	go run ./scripts/gencaptures                       # rewrite testdata/
//	go run ./scripts/gencaptures -large /tmp/big.pcap -packets 3000000 -flows 300000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nfstream-go/nfstream/internal/testing/testgen"
)

func main() {
	out := flag.String("out", "testdata", "directory to write the test captures into")
	large := flag.String("large", "", "write one large benchmark capture to `FILE` instead")
	packets := flag.Int("packets", 3_000_000, "packets in the large capture")
	flows := flag.Int("flows", 300_000, "flows in the large capture")
	seed := flag.Uint64("seed", 1, "seed of the large capture")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gencaptures: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	var err error
	if *large != "" {
		err = writeLarge(*large, testgen.LargeConfig{Packets: *packets, Flows: *flows, Seed: *seed})
	} else {
		var names []string
		names, err = testgen.WriteAll(*out)
		if err == nil {
			fmt.Printf("gencaptures: wrote %d files to %s\n", len(names), *out)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gencaptures: %v\n", err)
		os.Exit(1)
	}
}

func writeLarge(name string, cfg testgen.LargeConfig) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	t0 := time.Now()
	w := bufio.NewWriterSize(f, 1<<20)
	st, err := testgen.WriteLarge(w, cfg)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Printf("gencaptures: %s: %d packets, %d flows, %d bytes in %v\n",
		name, st.Packets, st.Flows, st.FileBytes, time.Since(t0).Round(time.Millisecond))
	return nil
}
