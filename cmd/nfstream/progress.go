package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// progressInterval is how often the progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// runFiles runs the pipeline over the capture files into sink, feeding
// tel if not nil. When standard error is a terminal (and not -q) it shows
// a progress line there meanwhile, read from the run's Telemetry (one is
// made if tel is nil), redrawn in place, and clears it before returning,
// so the summary or the error that follows starts on a clean line.
func runFiles(cmd *cobra.Command, o *options, sink output.Sink, tel *pipeline.Telemetry) (pipeline.Stats, error) {
	cfg := o.fileConfig(true)
	cfg.Telemetry = tel
	cols := o.schema().Columns()
	w := cmd.ErrOrStderr()
	// Flows written on the same terminal would be mixed with the line.
	if o.quiet || !isTerminal(w) || o.out.toStdout() && isTerminal(cmd.OutOrStdout()) {
		return pipeline.Run(cmd.Context(), cfg, sink, cols)
	}
	if cfg.Telemetry == nil {
		cfg.Telemetry = new(pipeline.Telemetry)
	}
	p := newProgress(w, o.read, cfg.Telemetry)
	p.start()
	st, err := pipeline.Run(cmd.Context(), cfg, sink, cols)
	p.stop()
	return st, err
}

// progress draws the progress line of a run over files.
type progress struct {
	w      io.Writer
	total  uint64 // bytes of all the sources; 0 when unknown (standard input, a FIFO)
	tel    *pipeline.Telemetry
	begin  time.Time
	recent []sample // the last rateWindow draws, for packets/s
	quit   chan struct{}
	done   chan struct{}
}

// newProgress sums the sizes of the sources; a source that is not a
// regular file makes the total unknown.
func newProgress(w io.Writer, sources []string, tel *pipeline.Telemetry) *progress {
	p := &progress{w: w, tel: tel, quit: make(chan struct{}), done: make(chan struct{})}
	for _, name := range sources {
		st, err := os.Stat(name)
		if name == "-" || err != nil || !st.Mode().IsRegular() {
			p.total = 0
			break
		}
		p.total += uint64(st.Size())
	}
	return p
}

func (p *progress) start() {
	p.begin = time.Now()
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.draw(time.Since(p.begin))
			}
		}
	}()
}

// stop ends the drawing and clears the line.
func (p *progress) stop() {
	close(p.quit)
	<-p.done
	statusLine.clear()
}

// sample is the packet count at some time of the run.
type sample struct {
	at      time.Duration
	packets uint64
}

// rateWindow is how many draws back packets/s looks (2 s).
const rateWindow = 8

// rate is the packets per second since the oldest recent sample, or since
// the start.
func (p *progress) rate(now sample) float64 {
	from := sample{}
	if len(p.recent) == rateWindow {
		from = p.recent[0]
		p.recent = append(p.recent[:0], p.recent[1:]...)
	}
	p.recent = append(p.recent, now)
	secs := max((now.at - from.at).Seconds(), 1e-3)
	return float64(now.packets-from.packets) / secs
}

// draw shows the progress line with the run's counts at elapsed.
func (p *progress) draw(elapsed time.Duration) {
	s := p.tel.Snapshot()
	statusLine.show(p.w, p.line(elapsed, terminalWidth(p.w), s.SourceBytes, s.PacketsProcessed+s.PacketsIgnored, s.FlowsExpired))
}

// line is the progress text after elapsed, given the bytes read from the
// sources, the packets read and the flows written, cut to the terminal's
// width. Packets/s is the recent rate; the ETA follows the average byte
// rate.
func (p *progress) line(elapsed time.Duration, width int, bytes, packets, flows uint64) string {
	secs := max(elapsed.Seconds(), 1e-3)
	pps := p.rate(sample{elapsed, packets})
	var b strings.Builder
	if p.total > 0 {
		done := min(bytes, p.total)
		fmt.Fprintf(&b, "%s of %s (%d%%)", humanBytes(done), humanBytes(p.total), done*100/p.total)
	} else {
		fmt.Fprintf(&b, "%s read", humanBytes(bytes))
	}
	fmt.Fprintf(&b, ", %s packets/s, %d flows", humanCount(pps), flows)
	if p.total > 0 && bytes > 0 {
		if bytes >= p.total {
			b.WriteString(", writing")
		} else {
			left := time.Duration(float64(p.total-bytes) / (float64(bytes) / secs) * float64(time.Second))
			b.WriteString(", ETA " + clock(left))
		}
	}
	s := b.String()
	if width > 1 && len(s) > width-1 {
		s = s[:width-1] // a wrapped line could not be redrawn in place
	}
	return s
}

// humanBytes writes n bytes with a decimal unit: 512 B, 1.5 MB, 12 GB.
func humanBytes(n uint64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	i := -1
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %cB", v, units[i])
	}
	return fmt.Sprintf("%.0f %cB", v, units[i])
}

// humanCount writes a rate with a k or M suffix.
func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// clock writes a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// statusLine is the line redrawn in place on standard error; whatever
// else is written there while it is shown goes through println.
var statusLine status

type status struct {
	mu    sync.Mutex
	w     io.Writer // where the shown line is; nil when none is
	shown bool
}

// show draws text over the line shown.
func (s *status) show(w io.Writer, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprint(w, "\r"+text+"\033[K")
	s.w, s.shown = w, true
}

// clear erases the line shown, if any.
func (s *status) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *status) clearLocked() {
	if s.shown {
		fmt.Fprint(s.w, "\r\033[K")
		s.shown = false
	}
}

// println writes a message line on standard error, clearing the line
// shown first (the next refresh draws it again).
func (s *status) println(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	fmt.Fprintln(os.Stderr, msg)
}
