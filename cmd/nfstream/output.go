package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/anonymize"
	"github.com/nfstream-go/nfstream/internal/dpi"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
)

// outputOptions are the flags that say where and how flows are written.
type outputOptions struct {
	path         string
	format       string
	compression  string
	rowGroupRows int
	rotate       time.Duration
	rotateFlows  int64
	anonymize    []string
	anonymizeKey string
	part         partitionOptions // partition.go

	// wallClock makes rotation follow the wall clock rather than packet
	// time: set it for live capture. A single text file is then written
	// in place under its name and flushed every second.
	wallClock bool

	// stderr receives the warnings of openOutput (nil: standard error,
	// through statusLine);
	// quiet, set from -q, silences them.
	stderr io.Writer
	quiet  bool

	changed func(name string) bool // whether a flag was given
	file    output.FileConfig      // decided by validate

	ipfix ipfixOptions // --ipfix (ipfix.go)
}

func (o *outputOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.path, "output", "o", "-", "write flows to `PATH`: format from the extension (.csv, .jsonl, .parquet; .csv.gz, .jsonl.gz, .csv.zst, .jsonl.zst compressed); - for standard output (CSV or JSONL); with --rotate or --rotate-flows a name template (%Y %m %d %H %M %S of the interval start in UTC, %i file number)")
	fs.StringVar(&o.format, "format", "", "output format: csv, jsonl or parquet (default: from the -o extension, else csv)")
	fs.StringVar(&o.compression, "compression", "zstd", "Parquet page compression: "+strings.Join(output.Codecs, ", "))
	fs.IntVar(&o.rowGroupRows, "row-group-rows", output.DefaultRowGroupRows, "rows per Parquet row group (bounds memory)")
	fs.DurationVar(&o.rotate, "rotate", 0, "start a new output file every `INTERVAL` (e.g. 5m), aligned to the clock (packet time for files); a flow goes to the file of the interval in which it expires")
	fs.Int64Var(&o.rotateFlows, "rotate-flows", 0, "start a new output file after `N` flows")
	fs.StringSliceVar(&o.anonymize, "anonymize", nil, "replace the values of these `COLUMNS` (comma-separated) by their keyed BLAKE2b-512 hex digest")
	fs.StringVar(&o.anonymizeKey, "anonymize-key", "", "read the 64-byte anonymization key from `FILE` (raw, or 128 hex digits) so digests are stable across runs; default: a random key per run")
	o.ipfix.addFlags(fs)
	o.part.addFlags(fs)
}

func (o *outputOptions) toStdout() bool { return o.path == "-" }

func (o *outputOptions) rotating() bool { return o.rotate > 0 || o.rotateFlows > 0 }

// validate checks the output flags against the columns the run will have;
// it does no work.
func (o *outputOptions) validate(cols []features.Column) error {
	if err := o.ipfix.validate(o.changed); err != nil {
		return err
	}
	if o.part.on() || o.changed != nil && o.changed("max-open-partitions") {
		return o.validatePartitioned(cols)
	}
	var fc output.FileConfig
	fromPath, comp, known := output.FormatCSV, output.NoCompression, false
	// A device, FIFO or socket (-o /dev/null) is written directly and,
	// like standard output, needs no extension; a folder is refused.
	stream := false
	if !o.toStdout() {
		d := output.Classify(o.path)
		switch {
		case o.rotating() && d.Kind == output.DestStream:
			return usagef("-o %q is a device, FIFO or socket: it cannot be rotated (drop --rotate and --rotate-flows)", o.path)
		case o.rotating():
			// A name template: its files are classified as they come.
		case d.Err() != nil:
			return usagef("-o %v", d.Err())
		}
		stream = d.Kind == output.DestStream
	}
	if !o.toStdout() {
		var err error
		fromPath, comp, known, err = output.FormatFromPath(o.path)
		if err != nil {
			return usagef("-o %v", err)
		}
	}
	switch {
	case o.format != "":
		f, err := output.ParseFormat(o.format)
		if err != nil {
			return usagef("--format %q: must be csv, jsonl or parquet", o.format)
		}
		if f == output.FormatParquet && comp != output.NoCompression {
			return usagef("-o %q with --format parquet: Parquet compresses its pages itself (--compression); drop the .gz or .zst", o.path)
		}
		fc.Format = f
	case o.toStdout():
		fc.Format = output.FormatCSV
	case known:
		fc.Format = fromPath
	case stream:
		fc.Format = output.FormatCSV
	default:
		ext := filepath.Ext(o.path)
		return usagef("-o %q: cannot tell the format from the extension %q; use .csv, .jsonl or .parquet (optionally .gz or .zst for text), or --format", o.path, ext)
	}
	fc.Text = comp
	if fc.Format == output.FormatParquet {
		if o.toStdout() {
			return usagef("-o -: Parquet cannot be written to standard output (its footer is written last and readers seek to it); give a file name with -o")
		}
		if err := o.validateParquet(&fc); err != nil {
			return err
		}
	} else {
		for _, flag := range []string{"compression", "row-group-rows"} {
			if o.changed(flag) {
				return usagef("--%s applies to Parquet output only (text output is compressed by the -o extension: .gz or .zst)", flag)
			}
		}
	}
	if err := o.validateRotation(); err != nil {
		return err
	}
	if o.rotating() {
		if o.toStdout() {
			return usagef("--rotate and --rotate-flows need a file name template with -o, not standard output")
		}
		if err := output.CheckTemplate(o.path); err != nil {
			return usagef("-o: %v", err)
		}
		rc := output.RotateConfig{Template: o.path, Interval: o.rotate, Flows: uint64(o.rotateFlows), Create: fc.Create}
		if err := rc.Validate(); err != nil {
			return usagef("%v", err)
		}
	}
	return o.validateFile(fc, cols)
}

// validateParquet sets fc's Parquet options from the flags and checks
// them.
func (o *outputOptions) validateParquet(fc *output.FileConfig) error {
	fc.Parquet = output.ParquetConfig{Compression: strings.ToLower(o.compression), RowGroupRows: o.rowGroupRows}
	if o.rowGroupRows < output.MinRowGroupRows {
		return usagef("--row-group-rows %d: must be at least %d", o.rowGroupRows, output.MinRowGroupRows)
	}
	if err := fc.Parquet.Validate(); err != nil {
		return usagef("--compression %q: must be one of %s", o.compression, strings.Join(output.Codecs, ", "))
	}
	return nil
}

// validateRotation checks --rotate and --rotate-flows.
func (o *outputOptions) validateRotation() error {
	if o.rotate < 0 || o.rotate > 0 && o.rotate < output.MinRotateInterval {
		return usagef("--rotate %v: must be at least %v (or 0 for no rotation)", o.rotate, output.MinRotateInterval)
	}
	if o.rotateFlows < 0 {
		return usagef("--rotate-flows %d: must be 0 or more", o.rotateFlows)
	}
	return nil
}

// validateFile ends validate: the output's own checks, beyond what the
// flags name, and --anonymize; then fc is the output's.
func (o *outputOptions) validateFile(fc output.FileConfig, cols []features.Column) error {
	if err := fc.Validate(); err != nil {
		return usagef("%v", err)
	}
	if err := o.validateAnonymize(cols); err != nil {
		return err
	}
	o.file = fc
	return nil
}

// validateAnonymize checks --anonymize and --anonymize-key.
func (o *outputOptions) validateAnonymize(cols []features.Column) error {
	for _, name := range o.anonymize {
		if !hasColumn(cols, name) {
			return usagef("--anonymize %q: no such column in this output", name)
		}
	}
	if o.anonymizeKey != "" && len(o.anonymize) == 0 {
		return usagef("--anonymize-key needs --anonymize with the columns to hash")
	}
	return nil
}

// opened is the sink of a run and what run says about it afterwards.
type opened struct {
	sink   output.Sink
	watch  *watched
	rot    *output.Rotating    // when rotating
	part   *output.Partitioned // when partitioned
	name   string              // for messages
	closed chan struct{}       // closed when the run is over, stops the rotation ticker

	ipfix *ipfixOptions // the IPFIX exporters, described with the output
}

// describe tells where the flows went.
func (s *opened) describe() string {
	if s.ipfix == nil || !s.ipfix.on() {
		return s.describeOutput()
	}
	if s.name == "" {
		return s.ipfix.describe()
	}
	return s.describeOutput() + " and " + s.ipfix.describe()
}

// describeOutput tells where -o wrote the flows.
func (s *opened) describeOutput() string {
	if s.part != nil {
		return describePartitioned(s.name, s.part)
	}
	if s.rot == nil {
		return s.name
	}
	files := s.rot.Files()
	switch len(files) {
	case 0:
		return "no file (no flows)"
	case 1:
		return files[0]
	}
	return fmt.Sprintf("%d files (%s ... %s)", len(files), files[0], files[len(files)-1])
}

// failed reports whether writing the output failed.
func (s *opened) failed() bool { return s.watch.err != nil }

// watched remembers the first error of the sink it wraps. It is the sink
// handed to the pipeline, and an output.Aborter: Abort discards the file
// being written (pipeline.Run calls it when no input could be opened).
type watched struct {
	output.Sink
	raw output.Sink // the file or standard output sink, under anonymize
	err error
}

// Abort discards the output when it writes files; on standard output it
// does nothing.
func (w *watched) Abort() {
	if a, ok := w.raw.(output.Aborter); ok {
		a.Abort()
	}
}

func (w *watched) note(err error) error {
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

func (w *watched) Begin(cols []features.Column) error { return w.note(w.Sink.Begin(cols)) }
func (w *watched) Write(r *features.Record) error     { return w.note(w.Sink.Write(r)) }
func (w *watched) Close() error                       { return w.note(w.Sink.Close()) }

// Rows and WriteRows let the run format rows on several cores when the
// sink allows it (output.RowSink).
func (w *watched) Rows() output.RowFormat {
	if rs, ok := w.Sink.(output.RowSink); ok {
		return rs.Rows()
	}
	return nil
}

func (w *watched) WriteRows(rows []byte) error {
	return w.note(w.Sink.(output.RowSink).WriteRows(rows))
}

// rotator is a sink that cuts files: output.Rotating, output.Partitioned.
type rotator interface {
	Rotate() error
	CloseElapsed() error
}

// followRotation routes SIGHUP to r (signals.go), which closes its open
// files, and, live with --rotate, closes them once their interval has
// passed on the wall clock, even if no flow expires after it; done stops
// both. Errors are kept by the sink and stop the run at the next flow, or
// at the end.
func (s *opened) followRotation(out *outputOptions, r rotator) {
	s.closed = make(chan struct{})
	onHangup(func() { r.Rotate() })
	if out.wallClock && out.rotate > 0 {
		go func() {
			t := time.NewTicker(min(out.rotate, time.Second))
			defer t.Stop()
			for {
				select {
				case <-t.C:
					r.CloseElapsed()
				case <-s.closed:
					return
				}
			}
		}()
	}
}

// done stops SIGHUP's rotation and the live rotation ticker.
func (s *opened) done() {
	if s.closed != nil {
		onHangup(nil)
		close(s.closed)
	}
}

// openOutput creates the output. A single file is created at once (under its
// temporary name), so an unwritable destination fails before any packet
// is read; rotated files are created as flows arrive. It first removes the
// temporary files that killed runs left for this output, saying so on
// standard error (unless -q), and warns of a name template whose names
// can repeat.
func (o *options) openOutput(stdout io.Writer) (*opened, error) {
	out := &o.out
	out.quiet = out.quiet || o.quiet
	if !out.toStdout() && !out.part.on() {
		removed, err := output.RemoveStaleTemps(out.path, out.rotating())
		for _, p := range removed {
			out.warnf("removed %q, the temporary file of an earlier run that did not finish", p)
		}
		if err != nil {
			out.warnf("looking for temporary files of earlier runs: %v", err)
		}
	}
	var key []byte
	if len(out.anonymize) > 0 {
		var err error
		if out.anonymizeKey != "" {
			key, err = anonymize.LoadKey(out.anonymizeKey)
		} else {
			key, err = anonymize.NewKey()
		}
		if err != nil {
			return nil, err
		}
	}
	fc := out.file
	fc.Parquet.Metadata = o.parquetMetadata()
	fc.Parquet.Application, fc.Parquet.Version = "nfstream", version
	s := &opened{name: out.path}
	switch {
	case out.ipfixOnly():
		s.name = "" // nothing on standard output
	case out.toStdout():
		s.name = "standard output"
		switch {
		case out.wallClock:
			// Live: flushed every second, so a reader of the pipe
			// gets the flows as they come.
			fc.LiveFlush = time.Second
			sink, err := fc.NewWriter(stdout, s.name)
			if err != nil {
				return nil, err
			}
			s.sink = sink
		case fc.Format == output.FormatJSONL:
			s.sink = output.NewJSONL(stdout, s.name)
		default:
			s.sink = output.NewCSV(stdout, s.name)
		}
	case out.part.on():
		if err := o.openPartitioned(s, fc); err != nil {
			return nil, err
		}
	case out.rotating():
		if err := checkDir(out.path); err != nil {
			return nil, err
		}
		rc := output.RotateConfig{
			Template: out.path,
			Interval: out.rotate,
			Flows:    uint64(out.rotateFlows),
			Create:   fc.Create,
			Warn:     func(msg string) { out.warnf("%s", msg) },
		}
		if msg := output.TemplateRepeats(out.path, out.rotate, uint64(out.rotateFlows)); msg != "" {
			out.warnf("%s", msg)
		}
		if out.wallClock {
			rc.Now = time.Now
		}
		s.rot = output.NewRotating(rc)
		s.sink = s.rot
		s.followRotation(out, s.rot)
	default:
		if out.wallClock {
			// Live: a text file is written in place and flushed every
			// second, so tail -f follows it and a crash loses little.
			fc.LiveFlush = time.Second
		}
		sink, err := fc.Create(out.path)
		if err != nil {
			return nil, err
		}
		s.sink = sink
	}
	raw := s.sink
	if out.ipfix.on() {
		s.ipfix = &out.ipfix
		var err error
		if s.sink, err = out.ipfix.open(raw, out.anonymize, func(msg string) { out.warnf("%s", msg) }); err != nil {
			return nil, err
		}
	}
	if len(out.anonymize) > 0 {
		s.sink = anonymize.Wrap(s.sink, out.anonymize, key)
	}
	s.watch = &watched{Sink: s.sink, raw: raw}
	s.sink = s.watch
	return s, nil
}

// warnf prints a warning on standard error unless -q.
func (o *outputOptions) warnf(format string, args ...any) {
	if o.quiet {
		return
	}
	msg := fmt.Sprintf("nfstream: warning: "+format, args...)
	if o.stderr == nil {
		statusLine.println(msg) // clears the progress bar's line first
		return
	}
	fmt.Fprintln(o.stderr, msg)
}

// checkDir makes sure the folder of a rotated output exists when its name
// has no fields (folders named by fields are created as needed).
func checkDir(template string) error {
	dir := filepath.Dir(template)
	if strings.Contains(dir, "%") {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("output folder %q: %w", dir, unwrapPathError(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("output folder %q: not a folder", dir)
	}
	return nil
}

// parquetMetadata is what a Parquet file says about the run that wrote it:
// the versions and the flags that shape values.
func (o *options) parquetMetadata() []output.KeyValue {
	sources, _ := json.Marshal(o.read)
	kv := []output.KeyValue{
		{Key: "nfstream.version", Value: version},
		{Key: "nfstream.ndpi_version", Value: dpi.Version()},
		{Key: "nfstream.source", Value: string(sources)},
		{Key: "nfstream.accounting_mode", Value: strconv.Itoa(int(o.accounting))},
		{Key: "nfstream.idle_timeout", Value: strconv.FormatInt(o.idleTimeout, 10)},
		{Key: "nfstream.active_timeout", Value: strconv.FormatInt(o.activeTimeout, 10)},
		{Key: "nfstream.n_dissections", Value: strconv.Itoa(o.nDissections)},
		{Key: "nfstream.statistical_analysis", Value: strconv.FormatBool(o.stats)},
		{Key: "nfstream.splt_analysis", Value: strconv.Itoa(o.splt)},
		{Key: "nfstream.decode_tunnels", Value: strconv.FormatBool(o.decodeTunnels)},
	}
	if len(o.out.anonymize) > 0 {
		kv = append(kv, output.KeyValue{Key: "nfstream.anonymized_columns", Value: strings.Join(o.out.anonymize, ",")})
	}
	kv = append(kv, o.modelMetadata()...)
	return append(kv, o.partitionMetadata()...)
}
