package ipfix

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Defaults of Config.
const (
	DefaultMTU              = 1400
	DefaultTemplateInterval = 600 * time.Second
	DefaultTemplateMessages = 1000
	DefaultBuffer           = 65536
	DefaultCloseTimeout     = 10 * time.Second
	minMTU                  = 512
	maxTCPMessage           = 65535
)

// Config says where and how an Exporter sends.
type Config struct {
	// Collector is udp://HOST:PORT or tcp://HOST:PORT.
	Collector string
	// Domain is the observation domain id of every message.
	Domain uint32
	// MTU bounds a UDP message (IPFIX header included, IP and UDP
	// headers not); TCP messages go up to 65535 bytes.
	MTU int
	// TemplateInterval and TemplateMessages: over UDP the templates are
	// sent again when this much time or this many messages have passed
	// since they were last sent (RFC 7011 section 8.4); 0 turns either
	// off. The time is checked on a timer too, so templates go out on a
	// quiet link.
	TemplateInterval time.Duration
	TemplateMessages int
	// Buffer bounds the records waiting to be sent. While the collector
	// is reachable a full buffer makes Write wait; while a TCP collector
	// is unreachable a record that finds it full is dropped and counted.
	Buffer int
	// CloseTimeout bounds how long Close waits for an unreachable TCP
	// collector to take the records still buffered.
	CloseTimeout time.Duration
	// Backoff is the first delay between TCP connection attempts; it
	// doubles up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Plain names columns carried as enterprise elements even when they
	// have an IANA element (anonymized columns).
	Plain []string
	// Warn, if set, is told when a TCP connection is lost or made.
	Warn func(msg string)
	// Now is the clock of export times and template refresh (time.Now
	// if nil).
	Now func() time.Time
}

// ParseCollector splits udp://HOST:PORT or tcp://HOST:PORT into network
// and address.
func ParseCollector(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("ipfix collector %q: must be udp://HOST:PORT or tcp://HOST:PORT", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", "", fmt.Errorf("ipfix collector %q: must be udp://HOST:PORT or tcp://HOST:PORT", s)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", "", fmt.Errorf("ipfix collector %q: port %q must be 1-65535", s, port)
	}
	return u.Scheme, u.Host, nil
}

// Validate checks the configuration and fills in defaults for zero
// values.
func (c *Config) Validate() error {
	if _, _, err := ParseCollector(c.Collector); err != nil {
		return err
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < minMTU || c.MTU > maxTCPMessage {
		return fmt.Errorf("ipfix: MTU %d: must be %d-%d", c.MTU, minMTU, maxTCPMessage)
	}
	if c.TemplateInterval < 0 || c.TemplateMessages < 0 {
		return fmt.Errorf("ipfix: template refresh must not be negative")
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Buffer < 1 {
		return fmt.Errorf("ipfix: Buffer %d: must be at least 1", c.Buffer)
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Backoff == 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(5*time.Second, c.Backoff)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Stats counts what an Exporter did with the records it was given.
type Stats struct {
	Sent       uint64 // data records handed to the transport
	Dropped    uint64 // records lost: buffer full while the collector was down, UDP send errors, records too large, left at Close
	Truncated  uint64 // records whose strings or lists were cut to fit a message
	Messages   uint64
	Reconnects uint64 // TCP connections made after the first
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("ipfix: exporter closed")

// Exporter is an output.Sink that sends each flow record as an IPFIX data
// record to one collector. Write encodes the record and queues it; a
// goroutine packs queued records into messages and sends them, sends the
// templates first (and again as Config says for UDP, and on each new TCP
// connection), and reconnects to a TCP collector with backoff, keeping
// the queued records meanwhile. See docs/ipfix.md.
type Exporter struct {
	cfg     Config
	network string
	addr    string

	enc    recordEncoder
	recCap int // the largest record encoded so far: a new buffer's capacity

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []queued // records waiting, oldest first
	free    [][]byte
	up      bool // the transport can take messages (always for UDP)
	closing bool
	closed  bool
	stats   Stats
	kick    chan struct{}
	done    chan struct{}
	// templates are the template records (set 2), the RFC 5610 options
	// template (set 3) and its records, in sending order; built by Begin.
	templates []queued
}

// queued is a record and the id of the set it goes in (its template's id
// for a data record).
type queued struct {
	tid uint16
	rec []byte
}

// New returns an Exporter for cfg; nothing is sent before Begin.
func New(cfg Config) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	network, addr, _ := ParseCollector(cfg.Collector)
	e := &Exporter{cfg: cfg, network: network, addr: addr, kick: make(chan struct{}, 1), done: make(chan struct{})}
	e.cond = sync.NewCond(&e.mu)
	e.up = network == "udp"
	return e, nil
}

// Name is the collector, as given.
func (e *Exporter) Name() string { return e.cfg.Collector }

// Stats returns the counters so far; it may be called at any time.
func (e *Exporter) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// maxMessage is the largest message the transport takes.
func (e *Exporter) maxMessage() int {
	if e.network == "tcp" {
		return maxTCPMessage
	}
	return e.cfg.MTU
}

// Begin builds the templates of cols and starts sending.
func (e *Exporter) Begin(cols []features.Column) error {
	s := NewSchema(cols, e.cfg.Plain)
	e.enc = recordEncoder{schema: s, max: e.maxMessage() - MessageHeaderLen - SetHeaderLen}
	e.templates = []queued{
		{2, appendTemplateRecord(nil, TemplateIPv4, s.V4)},
		{2, appendTemplateRecord(nil, TemplateIPv6, s.V6)},
		{3, appendTypesTemplate(nil)},
	}
	for _, t := range s.typeRecords() {
		e.templates = append(e.templates, queued{TemplateTypes, t})
	}
	for _, t := range e.templates[:2] {
		if n := len(t.rec); n > e.enc.max {
			e.enc.schema = nil
			return fmt.Errorf("ipfix %s: the template of these %d columns takes %d bytes, more than a message of %d bytes holds (raise --ipfix-mtu)", e.cfg.Collector, len(cols), n+MessageHeaderLen+SetHeaderLen, e.maxMessage())
		}
	}
	go e.run()
	return nil
}

// Write encodes r and queues it.
func (e *Exporter) Write(r *features.Record) error {
	e.mu.Lock()
	if e.closed || e.closing {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.enc.schema == nil {
		e.mu.Unlock()
		return fmt.Errorf("ipfix %s: Write before a successful Begin", e.cfg.Collector)
	}
	var buf []byte
	if n := len(e.free); n > 0 {
		buf, e.free = e.free[n-1][:0], e.free[:n-1]
	}
	e.mu.Unlock()
	if buf == nil {
		// No sent record's buffer to reuse (the sender is behind): one
		// allocation of the right size rather than growing from nothing.
		buf = make([]byte, 0, e.recCap)
	}
	buf, tid, truncated, ok := e.enc.appendRecord(buf, r)
	e.recCap = max(e.recCap, len(buf))
	e.mu.Lock()
	defer e.mu.Unlock()
	if truncated {
		e.stats.Truncated++
	}
	if !ok {
		e.stats.Dropped++
		e.free = append(e.free, buf)
		return nil
	}
	for len(e.queue) >= e.cfg.Buffer && e.up && !e.closing {
		e.cond.Wait()
	}
	if len(e.queue) >= e.cfg.Buffer {
		e.stats.Dropped++
		e.free = append(e.free, buf)
		return nil
	}
	e.queue = append(e.queue, queued{tid, buf})
	if len(e.queue) == 1 || len(e.queue)%64 == 0 {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Close sends what is queued (waiting up to Config.CloseTimeout for an
// unreachable TCP collector), counts what could not be sent as dropped,
// and closes the connection. It never fails because of the collector:
// losses are in Stats.
func (e *Exporter) Close() error {
	e.mu.Lock()
	if e.closed || e.closing {
		e.mu.Unlock()
		return nil
	}
	begun := e.enc.schema != nil
	e.closing = true
	e.cond.Broadcast()
	e.mu.Unlock()
	if begun {
		select {
		case e.kick <- struct{}{}:
		default:
		}
		<-e.done
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return nil
}
