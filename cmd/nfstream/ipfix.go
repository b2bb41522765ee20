package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/output/ipfix"
)

// ipfixOptions are the flags of IPFIX export (docs/ipfix.md).
type ipfixOptions struct {
	collectors       []string
	domain           uint32
	mtu              int
	templateInterval time.Duration
	templateMessages int
	buffer           int

	exporters []*ipfix.Exporter // opened by open
}

func (o *ipfixOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.collectors, "ipfix", nil, "also send the flows as IPFIX (RFC 7011, RFC 5103 biflows) to the collector `udp://HOST:PORT` or `tcp://HOST:PORT` (repeatable); without -o nothing is written to standard output (see docs/ipfix.md)")
	fs.Uint32Var(&o.domain, "ipfix-domain", 0, "IPFIX observation domain `ID` of the messages")
	fs.IntVar(&o.mtu, "ipfix-mtu", ipfix.DefaultMTU, "largest IPFIX message over UDP, in `BYTES` (IP and UDP headers not included)")
	fs.DurationVar(&o.templateInterval, "ipfix-template-interval", ipfix.DefaultTemplateInterval, "over UDP, send the IPFIX templates again after this `INTERVAL` (0: never)")
	fs.IntVar(&o.templateMessages, "ipfix-template-messages", ipfix.DefaultTemplateMessages, "over UDP, send the IPFIX templates again after `N` messages (0: never)")
	fs.IntVar(&o.buffer, "ipfix-buffer", ipfix.DefaultBuffer, "flows held per IPFIX collector while it is unreachable (TCP); beyond, flows are dropped and counted")
}

func (o *ipfixOptions) on() bool { return len(o.collectors) > 0 }

// config is the exporter configuration of one collector.
func (o *ipfixOptions) config(collector string, plain []string, warn func(string)) ipfix.Config {
	return ipfix.Config{
		Collector:        collector,
		Domain:           o.domain,
		MTU:              o.mtu,
		TemplateInterval: o.templateInterval,
		TemplateMessages: o.templateMessages,
		Buffer:           o.buffer,
		Plain:            plain,
		Warn:             warn,
	}
}

// validate checks the IPFIX flags; changed tells whether a flag was given.
func (o *ipfixOptions) validate(changed func(string) bool) error {
	if !o.on() {
		for _, f := range []string{"ipfix-domain", "ipfix-mtu", "ipfix-template-interval", "ipfix-template-messages", "ipfix-buffer"} {
			if changed != nil && changed(f) {
				return usagef("--%s needs --ipfix", f)
			}
		}
		return nil
	}
	if o.mtu < 512 || o.mtu > 65535 {
		return usagef("--ipfix-mtu %d: must be from 512 to 65535", o.mtu)
	}
	if o.templateInterval < 0 {
		return usagef("--ipfix-template-interval %v: must not be negative", o.templateInterval)
	}
	if o.templateMessages < 0 {
		return usagef("--ipfix-template-messages %d: must be 0 or more", o.templateMessages)
	}
	if o.buffer < 1 {
		return usagef("--ipfix-buffer %d: must be at least 1", o.buffer)
	}
	for _, c := range o.collectors {
		cfg := o.config(c, nil, nil)
		if err := cfg.Validate(); err != nil {
			return usagef("--ipfix %v", err)
		}
	}
	return nil
}

// open makes one exporter per collector and returns file (the -o sink, nil
// when only --ipfix was given) and them as one sink.
func (o *ipfixOptions) open(file output.Sink, plain []string, warn func(string)) (output.Sink, error) {
	sinks := []output.Sink{}
	if file != nil {
		sinks = append(sinks, file)
	}
	for _, c := range o.collectors {
		e, err := ipfix.New(o.config(c, plain, warn))
		if err != nil {
			return nil, err
		}
		o.exporters = append(o.exporters, e)
		sinks = append(sinks, e)
	}
	ipfixMetrics.set(o.exporters)
	if len(sinks) == 1 {
		return sinks[0], nil
	}
	return &tee{sinks: sinks}, nil
}

// describe tells what each exporter sent, for the run's summary.
func (o *ipfixOptions) describe() string {
	var parts []string
	for _, e := range o.exporters {
		st := e.Stats()
		s := fmt.Sprintf("IPFIX %s (%d sent", e.Name(), st.Sent)
		if st.Dropped > 0 {
			s += fmt.Sprintf(", %d dropped", st.Dropped)
		}
		if st.Truncated > 0 {
			s += fmt.Sprintf(", %d truncated to fit", st.Truncated)
		}
		switch {
		case st.Reconnects == 1:
			s += ", 1 reconnection"
		case st.Reconnects > 1:
			s += fmt.Sprintf(", %d reconnections", st.Reconnects)
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}

// tee writes every record to several sinks (the file and the collectors).
type tee struct{ sinks []output.Sink }

func (t *tee) Begin(cols []features.Column) error {
	for _, s := range t.sinks {
		if err := s.Begin(cols); err != nil {
			return err
		}
	}
	return nil
}

func (t *tee) Write(r *features.Record) error {
	for _, s := range t.sinks {
		if err := s.Write(r); err != nil {
			return err
		}
	}
	return nil
}

func (t *tee) Close() error {
	var first error
	for _, s := range t.sinks {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ipfixMetrics serves the exporters' counters on --metrics-addr; the
// metrics server starts before the output is opened, so it reads the
// exporters through this.
var ipfixMetrics exporterMetrics

type exporterMetrics struct {
	mu   sync.Mutex
	exps []*ipfix.Exporter
}

func (m *exporterMetrics) set(exps []*ipfix.Exporter) {
	m.mu.Lock()
	m.exps = exps
	m.mu.Unlock()
}

var (
	ipfixSentDesc    = prometheus.NewDesc("nfstream_ipfix_flows_sent_total", "Flows sent as IPFIX data records, by collector.", []string{"collector"}, nil)
	ipfixDroppedDesc = prometheus.NewDesc("nfstream_ipfix_flows_dropped_total", "Flows not sent to an IPFIX collector (buffer full while unreachable, UDP send errors, left at exit), by collector.", []string{"collector"}, nil)
)

func (m *exporterMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- ipfixSentDesc
	ch <- ipfixDroppedDesc
}

func (m *exporterMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.exps {
		st := e.Stats()
		ch <- prometheus.MustNewConstMetric(ipfixSentDesc, prometheus.CounterValue, float64(st.Sent), e.Name())
		ch <- prometheus.MustNewConstMetric(ipfixDroppedDesc, prometheus.CounterValue, float64(st.Dropped), e.Name())
	}
}

// ipfixOnly reports whether the flows go to IPFIX collectors only: --ipfix
// without -o writes nothing to standard output.
func (o *outputOptions) ipfixOnly() bool {
	return o.ipfix.on() && o.toStdout() && (o.changed == nil || !o.changed("output"))
}
