package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// A name template is a file path with strftime-like fields, filled for each
// file of a rotated output: %Y (year, 4 digits), %m (month), %d (day),
// %H (hour), %M (minute), %S (second), all two digits, of the file's
// interval start in UTC; %i, the file's sequence number (000000, 000001,
// ...: six digits, more past 999999, so names sort in order); %%, a
// percent sign. A template without any field gets ".<sequence>" before its
// extension, as NFStream's flows_per_file names its files, zero-padded
// likewise: flows.csv gives flows.000000.csv, flows.000001.csv...
//
// A run never overwrites a file it wrote: when a name comes again (a
// template that cannot tell the intervals apart, such as %H over several
// days, or a second file in one interval after --rotate-flows or SIGHUP
// without %i), the file gets "_2", "_3"... before its output extension
// (f-00.csv, then f-00_2.csv). "_" sorts after ".", so a repeat sorts
// right after the first file of its name (up to _9).

// CheckTemplate reports an unknown or unfinished field of a name template.
func CheckTemplate(tmpl string) error {
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '%' {
			continue
		}
		if i+1 == len(tmpl) {
			return fmt.Errorf("name template %q ends with a lone %%", tmpl)
		}
		i++
		if !strings.ContainsRune("YmdHMSi%", rune(tmpl[i])) {
			return fmt.Errorf("name template %q: unknown field %%%c (known: %%Y %%m %%d %%H %%M %%S %%i %%%%)", tmpl, tmpl[i])
		}
	}
	return nil
}

// TemplateRepeats tells, in a sentence, why a template used with this
// interval (0: none) and flow count (0: none) can give the same name to
// two files of a run, or "" when it cannot (apart from Rotate, on
// SIGHUP). Such files are not lost (see the de-duplication above), but the
// names do not tell the intervals apart: callers warn before the run.
// tmpl must be valid (CheckTemplate).
func TemplateRepeats(tmpl string, interval time.Duration, flows uint64) string {
	if !templateHasFields(tmpl) || strings.Contains(strings.ReplaceAll(tmpl, "%%", ""), "%i") {
		return "" // a sequence number in every name
	}
	if flows > 0 && interval > 0 {
		return fmt.Sprintf("name template %q has no %%i: the files of one interval after every %d flows repeat a name and get _2, _3... suffixes", tmpl, flows)
	}
	has := func(c byte) bool {
		return strings.Contains(strings.ReplaceAll(tmpl, "%%", ""), "%"+string(c))
	}
	// The fields a file's interval start needs, coarsest first.
	need := "YmdHMS"
	switch {
	case interval <= 0 || interval%time.Second != 0:
		// By flows only (file times to the second), or intervals finer
		// than a second.
		return fmt.Sprintf("name template %q has no %%i: files started within one second repeat a name and get _2, _3... suffixes", tmpl)
	case interval%(24*time.Hour) == 0:
		need = "Ymd"
	case interval%time.Hour == 0:
		need = "YmdH"
	case interval%time.Minute == 0:
		need = "YmdHM"
	}
	var missing []string
	for i := range len(need) {
		if !has(need[i]) {
			missing = append(missing, "%"+need[i:i+1])
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("name template %q lacks %s (or %%i) for --rotate %v: names repeat when the capture spans longer, and repeats get _2, _3... suffixes", tmpl, strings.Join(missing, " "), interval)
}

// templateHasFields reports whether tmpl has a field other than %%.
func templateHasFields(tmpl string) bool {
	for i := 0; i+1 < len(tmpl); i++ {
		if tmpl[i] == '%' {
			if tmpl[i+1] != '%' {
				return true
			}
			i++
		}
	}
	return false
}

// ExpandTemplate returns the name of file number seq, whose interval
// starts at t. A template without fields gets ".<seq>" before its
// extension.
func ExpandTemplate(tmpl string, t time.Time, seq uint64) string {
	if !templateHasFields(tmpl) {
		return insertSeq(strings.ReplaceAll(tmpl, "%%", "%"), seq)
	}
	t = t.UTC()
	var b []byte
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 == len(tmpl) {
			b = append(b, c)
			continue
		}
		i++
		switch tmpl[i] {
		case 'Y':
			b = appendPad(b, t.Year(), 4)
		case 'm':
			b = appendPad(b, int(t.Month()), 2)
		case 'd':
			b = appendPad(b, t.Day(), 2)
		case 'H':
			b = appendPad(b, t.Hour(), 2)
		case 'M':
			b = appendPad(b, t.Minute(), 2)
		case 'S':
			b = appendPad(b, t.Second(), 2)
		case 'i':
			b = appendSeq(b, seq)
		default: // %% (CheckTemplate refuses others)
			b = append(b, tmpl[i])
		}
	}
	return string(b)
}

func appendPad(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for n := len(s); n < width; n++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// seqDigits is the width to which sequence numbers are zero-padded.
const seqDigits = 6

// appendSeq appends seq zero-padded to seqDigits digits.
func appendSeq(b []byte, seq uint64) []byte {
	s := strconv.FormatUint(seq, 10)
	for n := len(s); n < seqDigits; n++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// insertSeq puts ".<seq>" before the output extension of path
// (flows.csv.gz gives flows.000003.csv.gz), or at its end when it has
// none.
func insertSeq(path string, seq uint64) string {
	stem, ext := SplitExt(path)
	return stem + "." + string(appendSeq(nil, seq)) + ext
}

// insertRepeat puts "_<n>" before the output extension of path.
func insertRepeat(path string, n int) string {
	stem, ext := SplitExt(path)
	return stem + "_" + strconv.Itoa(n) + ext
}

// MinRotateInterval is the shortest RotateConfig.Interval: rotation
// times are whole seconds of the clock (the name fields stop at %S), so a
// shorter interval would give several files the same name.
const MinRotateInterval = time.Second

// RotateConfig configures a Rotating sink.
type RotateConfig struct {
	// Template names the files (see CheckTemplate).
	Template string
	// Interval starts a new file for each interval of this length,
	// aligned to the clock (multiples of it since the Unix epoch, UTC).
	// A flow goes to the file of the interval in which it expires. 0
	// disables it; else at least MinRotateInterval.
	Interval time.Duration
	// Flows starts a new file after this many flows; 0 disables it.
	Flows uint64
	// FirstSeq is the sequence number (%i) of the first file: a
	// partition continues after the part files already in its folder.
	FirstSeq uint64
	// Create opens the sink of one file (for example FileConfig.Create).
	Create func(path string) (Sink, error)
	// Now, when set, gives a flow's expiry time (live capture: the wall
	// clock). When nil the time is packet time: the largest
	// features.Record.ExpiredMS (the meter's clock when it exported the
	// flow) of the flows written so far, this one included, which never
	// goes backwards.
	Now func() time.Time
	// Warn, when set, receives a warning when a name repeats and a file
	// gets a _<n> suffix (see the name templates above): once per run,
	// with the first renamed file.
	Warn func(msg string)
}

// Validate names the first bad field.
func (c *RotateConfig) Validate() error {
	switch {
	case c.Create == nil:
		return errors.New("rotate: Create is nil")
	case c.Interval < 0:
		return fmt.Errorf("rotate: Interval %v: must not be negative", c.Interval)
	case c.Interval > 0 && c.Interval < MinRotateInterval:
		return fmt.Errorf("rotate: Interval %v: must be at least %v (or 0 for none)", c.Interval, MinRotateInterval)
	}
	if err := CheckTemplate(c.Template); err != nil {
		return fmt.Errorf("rotate: Template: %w", err)
	}
	return nil
}

// Rotating is a Sink that spreads the records over a sequence of files,
// each a complete output of its own (header, footer), opened through
// Create when the first record for it arrives. Ids are not touched: they
// continue across files. Rotate (for example on SIGHUP) may be called from
// another goroutine.
type Rotating struct {
	cfg        RotateConfig
	intervalMS uint64
	dirFields  bool // the template's directory part has fields

	mu       sync.Mutex
	cols     []features.Column
	cur      Sink
	curStart uint64 // interval start of cur, ms
	curFlows uint64
	seq      uint64 // sequence number of the next file
	clock    expiryClock
	files    []string
	used     map[string]bool // the names of the files opened
	warned   bool
	err      error
}

// expiryClock is the clock by which files are cut into intervals
// (RotateConfig.Now), shared by Rotating and Partitioned.
type expiryClock struct {
	now       func() time.Time // nil: packet time
	watermark uint64           // packet time, ms
}

// at returns the clock, in ms, for writing r: the wall clock (now), or
// the meter's clock when r expired; the latter never decreases along the
// output (the max only guards hand-made records).
func (c *expiryClock) at(r *features.Record) uint64 {
	if c.now != nil {
		return uint64(c.now().UnixMilli())
	}
	c.watermark = max(c.watermark, r.ExpiredMS)
	return c.watermark
}

// NewRotating returns a Rotating sink; cfg must be valid (Validate).
func NewRotating(cfg RotateConfig) *Rotating {
	return &Rotating{
		cfg:        cfg,
		intervalMS: uint64(cfg.Interval / time.Millisecond),
		dirFields:  templateHasFields(filepath.Dir(cfg.Template)),
		used:       map[string]bool{},
		seq:        cfg.FirstSeq,
		clock:      expiryClock{now: cfg.Now},
	}
}

// Begin records the columns; files are opened when records arrive, so an
// output without flows has no file.
func (s *Rotating) Begin(cols []features.Column) error {
	s.cols = cols
	return nil
}

// Write sends r to the file of its interval, opening it if needed.
func (s *Rotating) Write(r *features.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	now := s.clock.at(r)
	start := now
	if s.intervalMS > 0 {
		start = now - now%s.intervalMS
	}
	if s.cur != nil && (s.intervalMS > 0 && start != s.curStart || s.cfg.Flows > 0 && s.curFlows >= s.cfg.Flows) {
		if err := s.closeCurrent(); err != nil {
			return err
		}
	}
	if s.cur == nil {
		if err := s.open(start); err != nil {
			return err
		}
	}
	if err := s.cur.Write(r); err != nil {
		s.err = err
		return err
	}
	s.curFlows++
	return nil
}

func (s *Rotating) open(start uint64) error {
	t := time.UnixMilli(int64(start))
	if s.intervalMS == 0 {
		t = t.Truncate(time.Second)
	}
	base := ExpandTemplate(s.cfg.Template, t, s.seq)
	name := base
	for n := 2; s.used[name]; n++ {
		// Never overwrite a file of this run: the next free _<n>.
		name = insertRepeat(base, n)
	}
	if name != base && !s.warned && s.cfg.Warn != nil {
		s.warned = true
		s.cfg.Warn(fmt.Sprintf("%s was already written by this run: writing %s instead (later repeats of a name get _2, _3... suffixes too); put %%i or finer time fields in the name template to avoid this", base, name))
	}
	if s.dirFields {
		if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
			s.err = fmt.Errorf("create folder for %q: %w", name, bareError(err))
			return s.err
		}
	}
	sink, err := s.cfg.Create(name)
	if err == nil {
		err = sink.Begin(s.cols)
		if err != nil {
			sink.Close()
		}
	}
	if err != nil {
		s.err = err
		return err
	}
	s.cur, s.curStart, s.curFlows = sink, start, 0
	s.seq++
	s.files = append(s.files, name)
	s.used[name] = true
	return nil
}

func (s *Rotating) closeCurrent() error {
	if s.cur == nil {
		return nil
	}
	err := s.cur.Close()
	s.cur = nil
	if err != nil && s.err == nil {
		s.err = err
	}
	return err
}

// Rotate closes the current file, if any; the next record opens a new one
// with the next sequence number. It may be called from any goroutine.
func (s *Rotating) Rotate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeCurrent()
}

// CloseElapsed closes the current file if the clock (RotateConfig.Now) has
// left its interval, so that on a quiet link a file is complete soon
// after its interval ends rather than when the next flow expires. Live
// capture calls it from a ticker; without Now or Interval it does nothing.
func (s *Rotating) CloseElapsed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cfg.Now == nil || s.intervalMS == 0 {
		return nil
	}
	now := uint64(s.cfg.Now().UnixMilli())
	if now-now%s.intervalMS == s.curStart {
		return nil
	}
	return s.closeCurrent()
}

// Abort discards the file being written, if any (see Aborter); the files
// completed before stay. Later writes and Close return ErrAborted.
func (s *Rotating) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		if a, ok := s.cur.(Aborter); ok {
			a.Abort()
		} else {
			s.cur.Close()
		}
		s.cur = nil
	}
	if s.err == nil {
		s.err = ErrAborted
	}
}

// Close closes the current file and returns the first error of the run.
func (s *Rotating) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeCurrent()
	return s.err
}

// Files returns the names of the files opened so far.
func (s *Rotating) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.files...)
}
