package ipfix

import (
	"fmt"
	"net"
	"time"
)

// writeTimeout bounds one message write over TCP: a collector that stops
// reading counts as lost.
const writeTimeout = 10 * time.Second

// session is one transport session: a UDP socket, or one TCP connection.
type session struct {
	conn net.Conn
	// dead is closed when a TCP collector closes its end (a collector
	// never sends, so any read result means the session is over).
	dead chan struct{}
	seq  uint32 // data records sent in this session (RFC 7011 section 3.1)
	// sinceTemplates counts messages since the templates were last sent,
	// at lastTemplates; needTemplates is set for a new session.
	sinceTemplates int
	lastTemplates  time.Time
	needTemplates  bool
}

func (e *Exporter) dial() (*session, error) {
	conn, err := net.DialTimeout(e.network, e.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	s := &session{conn: conn, needTemplates: true}
	if e.network == "tcp" {
		s.dead = make(chan struct{})
		go func() {
			var b [256]byte
			for {
				if _, err := conn.Read(b[:]); err != nil {
					close(s.dead)
					return
				}
			}
		}()
	}
	return s, nil
}

func (s *session) isDead() bool {
	if s.dead == nil {
		return false
	}
	select {
	case <-s.dead:
		return true
	default:
		return false
	}
}

func (e *Exporter) warn(format string, args ...any) {
	if e.cfg.Warn != nil {
		e.cfg.Warn(fmt.Sprintf("ipfix %s: ", e.cfg.Collector) + fmt.Sprintf(format, args...))
	}
}

// run is the sending goroutine: it owns the session.
func (e *Exporter) run() {
	defer close(e.done)
	tcp := e.network == "tcp"
	var (
		s         *session
		nextDial  time.Time
		backoff   = e.cfg.Backoff
		connected bool // a session was made before
		downSince time.Time
		closeBy   time.Time
		batch     []queued
		msg       = message{max: e.maxMessage()}
	)
	period := time.Second
	if e.cfg.TemplateInterval > 0 {
		period = min(period, e.cfg.TemplateInterval)
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	// lose ends a TCP session whose collector went away: Write no longer
	// waits on a full buffer, and the records wait for the next
	// connection.
	lose := func(at time.Time, cause string) {
		s.conn.Close()
		s, downSince = nil, at
		e.warn("%s; buffering up to %d flows and reconnecting", cause, e.cfg.Buffer)
		e.mu.Lock()
		e.up = false
		e.cond.Broadcast()
		e.mu.Unlock()
	}
	for {
		now := e.cfg.Now()
		if s == nil && !now.Before(nextDial) {
			var err error
			s, err = e.dial()
			if err != nil {
				if !tcp {
					// A UDP socket fails only on a bad address: nothing
					// can be sent.
					e.warn("%v; its flows are dropped", err)
				} else if downSince.IsZero() {
					downSince = now
					e.warn("cannot connect (%v); buffering up to %d flows and retrying", err, e.cfg.Buffer)
				}
				s = nil
				nextDial = now.Add(backoff)
				backoff = min(2*backoff, e.cfg.MaxBackoff)
			} else {
				backoff = e.cfg.Backoff
				if connected {
					e.warn("connected again after %v", now.Sub(downSince).Round(time.Millisecond))
				}
				e.mu.Lock()
				if connected {
					e.stats.Reconnects++
				}
				e.up = true
				e.cond.Broadcast()
				e.mu.Unlock()
				connected, downSince = true, time.Time{}
			}
		}

		e.mu.Lock()
		closing := e.closing
		if closing && closeBy.IsZero() {
			closeBy = now.Add(e.cfg.CloseTimeout)
		}
		// batch is empty here (what could not be sent went back to the
		// queue): take the queue whole and give Write batch's array.
		batch, e.queue = e.queue, batch[:0]
		e.mu.Unlock()

		if s != nil {
			var err error
			batch, err = e.send(s, &msg, batch, now)
			if err != nil && tcp {
				lose(now, fmt.Sprintf("connection lost (%v)", err))
			} else if err != nil {
				// UDP: the batch is lost; a new socket sends the
				// templates first.
				s.conn.Close()
				s, nextDial = nil, time.Time{}
				e.warn("%v", err)
				e.drop(batch)
				batch = batch[:0]
			}
		} else if !tcp {
			e.drop(batch)
			batch = batch[:0]
		}
		// Records the sender could not send wait at the front of the
		// queue.
		if len(batch) > 0 {
			e.mu.Lock()
			e.queue = append(batch, e.queue...)
			batch = make([]queued, 0, 64)
			e.mu.Unlock()
		}

		if closing {
			e.mu.Lock()
			empty := len(e.queue) == 0
			if !empty && (!now.Before(closeBy) || !tcp) {
				e.stats.Dropped += uint64(len(e.queue))
				e.recycle(e.queue)
				e.queue = e.queue[:0]
				empty = true
			}
			e.mu.Unlock()
			if empty {
				if s != nil {
					s.conn.Close()
				}
				return
			}
		}

		var dead chan struct{}
		var retry <-chan time.Time
		if s != nil {
			dead = s.dead
		} else {
			retry = time.After(max(time.Until(nextDial), time.Millisecond))
		}
		select {
		case <-e.kick:
		case <-tick.C:
		case <-dead: // only a session's, so s is set
			lose(e.cfg.Now(), "the collector closed the connection")
		case <-retry:
		}
	}
}

// drop counts recs as dropped and gives their buffers back to Write.
func (e *Exporter) drop(recs []queued) {
	e.mu.Lock()
	e.stats.Dropped += uint64(len(recs))
	e.recycle(recs)
	e.mu.Unlock()
}

// recycle gives the buffers of sent or dropped records back to Write;
// the caller holds e.mu.
func (e *Exporter) recycle(recs []queued) {
	for _, q := range recs {
		if len(e.free) < 1024 {
			e.free = append(e.free, q.rec)
		}
	}
}

// send sends the templates when due, then recs in as few messages as fit.
// It returns the records it could not send (nil error: none).
func (e *Exporter) send(s *session, m *message, recs []queued, now time.Time) ([]queued, error) {
	due := s.needTemplates
	if e.network == "udp" {
		due = due || e.cfg.TemplateInterval > 0 && now.Sub(s.lastTemplates) >= e.cfg.TemplateInterval ||
			e.cfg.TemplateMessages > 0 && s.sinceTemplates >= e.cfg.TemplateMessages
	}
	if due {
		if err := e.sendTemplates(s, m, now); err != nil {
			return recs, err
		}
	}
	sent := 0
	m.reset()
	flush := func(upTo int) error {
		err := e.write(s, m, now)
		lost := err != nil && e.network == "udp"
		if err != nil && !lost {
			return err
		}
		e.mu.Lock()
		if lost {
			// UDP: this message is lost (the collector is likely
			// down); later ones are tried, with the templates first.
			e.stats.Dropped += uint64(upTo - sent)
			s.needTemplates = true
		} else {
			e.stats.Sent += uint64(upTo - sent)
		}
		e.recycle(recs[sent:upTo])
		e.cond.Broadcast()
		e.mu.Unlock()
		sent = upTo
		m.reset()
		return nil
	}
	for i, q := range recs {
		if m.add(q.tid, q.rec) {
			continue
		}
		if err := flush(i); err != nil {
			return recs[sent:], err
		}
		m.add(q.tid, q.rec) // a record always fits an empty message
	}
	if !m.empty() {
		if err := flush(len(recs)); err != nil {
			return recs[sent:], err
		}
	}
	return recs[:0], nil
}

// sendTemplates sends the IPv4, IPv6 and RFC 5610 options templates,
// then the RFC 5610 type records.
func (e *Exporter) sendTemplates(s *session, m *message, now time.Time) error {
	m.reset()
	for _, t := range e.templates {
		id, b := t.tid, t.rec
		if m.add(id, b) {
			continue
		}
		if err := e.write(s, m, now); err != nil {
			return err
		}
		m.reset()
		if !m.add(id, b) {
			return fmt.Errorf("a template of %d bytes does not fit a message of %d bytes", len(b), m.max)
		}
	}
	if !m.empty() {
		if err := e.write(s, m, now); err != nil {
			return err
		}
	}
	s.needTemplates, s.lastTemplates, s.sinceTemplates = false, now, 0
	return nil
}

// write sends the message being built with the session's sequence number.
func (e *Exporter) write(s *session, m *message, now time.Time) error {
	if s.isDead() {
		return fmt.Errorf("the collector closed the connection")
	}
	b := m.finish(uint32(now.Unix()), s.seq, e.cfg.Domain)
	if e.network == "tcp" {
		s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	if _, err := s.conn.Write(b); err != nil {
		return err
	}
	s.seq += m.records
	s.sinceTemplates++
	e.mu.Lock()
	e.stats.Messages++
	e.mu.Unlock()
	return nil
}
