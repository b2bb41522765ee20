package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// instrument starts what --metrics-addr and --report-interval ask for,
// around a run of either kind (files or live): it returns the Telemetry
// the run is to feed (nil when neither is asked for) and stop, which ends
// them once the run is over (it may be called more than once). The
// metrics address is listened on now, so a bad one fails before any
// input or output is opened. Only stderr is written: standard output may
// carry the flows.
func (o *options) instrument(ctx context.Context, stderr io.Writer) (*pipeline.Telemetry, func(), error) {
	if o.in.metrics == "" && o.in.report == 0 {
		return nil, func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	tel := new(pipeline.Telemetry)
	if o.in.metrics != "" {
		if err := serveMetrics(ctx, o.in.metrics, tel, stderr); err != nil {
			cancel()
			return nil, nil, err
		}
	}
	if o.in.report > 0 {
		startReports(ctx, stderr, time.Duration(o.in.report)*time.Second, tel)
	}
	return tel, cancel, nil
}

// startReports prints one JSON line of NFStream's performance report to w
// every interval until ctx ends.
func startReports(ctx context.Context, w io.Writer, every time.Duration, tel *pipeline.Telemetry) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		enc := json.NewEncoder(w)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				enc.Encode(tel.Snapshot())
			}
		}
	}()
}

// serveMetrics listens on addr now (so a bad address fails before any
// capture) and serves Prometheus metrics read from tel until ctx ends; a
// later failure of the server is reported on stderr, and the run goes on.
func serveMetrics(ctx context.Context, addr string, tel *pipeline.Telemetry, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func(pipeline.Snapshot) float64, labels prometheus.Labels) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return f(tel.Snapshot()) }))
	}
	counter("nfstream_packets_total", "Packets read from the capture rings or files.",
		func(s pipeline.Snapshot) float64 { return float64(s.PacketsProcessed + s.PacketsIgnored) }, nil)
	counter("nfstream_packets_ignored_total", "Packets the decoder ignored (not IP, fragments, malformed).",
		func(s pipeline.Snapshot) float64 { return float64(s.PacketsIgnored) }, nil)
	counter("nfstream_bytes_total", "Bytes (frame lengths) read from the capture rings or files.",
		func(s pipeline.Snapshot) float64 { return float64(s.Bytes) }, nil)
	counter("nfstream_kernel_dropped_packets_total", "Packets the kernel dropped because the rings were full (0 for files).",
		func(s pipeline.Snapshot) float64 { return float64(s.PacketsDropped) }, nil)
	counter("nfstream_sink_errors_total", "Errors writing flows.",
		func(s pipeline.Snapshot) float64 { return float64(s.SinkErrors) }, nil)
	for _, reason := range []string{"idle", "active", "custom", "evicted"} {
		counter("nfstream_flows_exported_total", "Flows written, by expiration reason.",
			func(s pipeline.Snapshot) float64 { return float64(s.FlowsByReason[reason]) }, prometheus.Labels{"reason": reason})
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nfstream_active_flows", Help: "Flows in the meters' tables."},
		func() float64 { return float64(tel.Snapshot().ActiveFlows) }))
	reg.MustRegister(&ipfixMetrics) // ipfix.go
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "nfstream: warning: metrics server: %v\n", err)
		}
	}()
	return nil
}
