package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// runLive captures on an interface until SIGINT or SIGTERM (or the flow
// or packet limit), then writes every flow in memory and reports what the
// kernel captured and dropped. The interface is opened before the output,
// so an interface that does not exist or missing privileges fail before
// any file is created.
func runLive(cmd *cobra.Command, o *options) error {
	system, err := o.sys.start(time.Duration(o.idleTimeout) * time.Second)
	if err != nil {
		return err
	}
	rings, err := o.in.openLive()
	if err != nil {
		return err
	}
	// The metrics server starts once the rings capture, so a /metrics that
	// answers means packets are being counted.
	tel, stop, err := o.instrument(cmd.Context(), cmd.ErrOrStderr())
	if err != nil {
		for _, r := range rings {
			r.Close()
		}
		return err
	}
	defer stop()
	o.out.wallClock = true
	out, err := o.openOutput(cmd.OutOrStdout())
	if err != nil {
		for _, r := range rings {
			r.Close()
		}
		return err
	}
	cfg := pipeline.LiveConfig{Common: o.common(true)}
	cfg.Telemetry, cfg.System = tel, system
	st, err := pipeline.RunLive(cmd.Context(), cfg, rings, out.sink, o.schema().Columns())
	stop()
	out.done()
	var summary string
	if !o.quiet && !out.failed() {
		// Stopped by -c, the rings may have received more than the
		// packets taken: the summary counts those.
		captured := st.Received
		if st.PacketLimitReached {
			captured = st.Packets
		}
		summary = fmt.Sprintf("nfstream: %d packets captured on %q (%d dropped by the kernel), %d ignored; %d flows written to %s%s%s\n",
			captured, o.in.iface, st.Dropped, st.Ignored, st.Flows, out.describe(), st.LimitNotes(), sysvisSummary(system))
	}
	return finish(cmd, summary, err)
}
