package plugin

import (
	"fmt"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Sink is output.Sink (repeated here so the package does not depend on
// the output package).
type Sink interface {
	Begin(cols []features.Column) error
	Write(r *features.Record) error
	Close() error
}

// ColumnSink decides a run's udps columns and begins the sink it wraps
// with them. NFStream takes its columns from the first flow; so does
// this: the udps columns are the names the first exported flow has, in
// the order they were first set, after the core columns and before the
// system visibility ones (features.Column.AfterPlugins). A later flow
// without one of them writes an empty value (None); a later flow with a
// name the first flow did not have is an error naming the plugin, the
// column and the flow (a column cannot appear in the middle of a file).
type ColumnSink struct {
	Sink  Sink
	base  []features.Column
	names map[string]bool
	begun bool
}

// NewColumnSink wraps s.
func NewColumnSink(s Sink) *ColumnSink { return &ColumnSink{Sink: s} }

// Begin records the core columns; the wrapped sink is begun at the first
// flow (or at Close when there is none).
func (c *ColumnSink) Begin(cols []features.Column) error {
	c.base = cols
	return nil
}

// Write begins the wrapped sink at the first flow, checks the flow's udps
// names and writes it.
func (c *ColumnSink) Write(r *features.Record) error {
	if !c.begun {
		// The udps columns go after the core ones and before those that
		// follow plugins (system visibility).
		head := len(c.base)
		for i, col := range c.base {
			if col.AfterPlugins {
				head = i
				break
			}
		}
		cols := append([]features.Column(nil), c.base[:head]...)
		c.names = map[string]bool{}
		if u := r.UDPS; u != nil {
			for i, n := range u.Names {
				t, elem := typeOf(u.Values[i]), features.ValueNone
				if l, ok := u.Values[i].([]any); ok && len(l) > 0 {
					elem = typeOf(l[0])
				}
				cols = append(cols, features.Column{Name: "udps." + n, Kind: features.KindValue, UDPS: n, ValueType: t, Elem: elem})
				c.names[n] = true
			}
		}
		cols = append(cols, c.base[head:]...)
		c.begun = true
		if err := c.Sink.Begin(cols); err != nil {
			return err
		}
	} else if u := r.UDPS; u != nil {
		for i, n := range u.Names {
			if !c.names[n] {
				return fmt.Errorf("plugin %s set udps.%s on flow %s, but the first flow did not: the columns are those of the first flow (set it to None in on_init to declare it)",
					u.Setters[i], n, RecordKey(r))
			}
		}
	}
	return c.Sink.Write(r)
}

// Close begins the wrapped sink if no flow came, and closes it.
func (c *ColumnSink) Close() error {
	if !c.begun {
		c.begun = true
		if err := c.Sink.Begin(c.base); err != nil {
			c.Sink.Close()
			return err
		}
	}
	return c.Sink.Close()
}
