package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// runLive captures on an interface until SIGINT or SIGTERM (or the flow
// limit), then writes every flow in memory and reports what the kernel
// captured and dropped. The interface is opened before the output, so an
// interface that does not exist or missing privileges fail before any file
// is created.
func runLive(cmd *cobra.Command, o *options) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	tel := new(pipeline.Telemetry)
	if o.in.metrics != "" {
		if err := serveMetrics(ctx, o.in.metrics, tel); err != nil {
			return err
		}
	}
	rings, err := o.in.openLive()
	if err != nil {
		return err
	}
	o.out.wallClock = true
	out, err := o.openOutput(cmd.OutOrStdout())
	if err != nil {
		for _, r := range rings {
			r.Close()
		}
		return err
	}
	if o.in.report > 0 {
		startReports(ctx, cmd.ErrOrStderr(), time.Duration(o.in.report)*time.Second, tel)
	}
	cfg := o.pipelineConfig()
	cfg.Telemetry = tel
	st, err := pipeline.RunLive(cmd.Context(), cfg, rings, out.sink, o.schema().Columns())
	cancel()
	out.done()
	var summary string
	if !o.quiet && !out.failed() {
		summary = fmt.Sprintf("nfstream: %d packets captured on %q (%d dropped by the kernel), %d ignored; %d flows written to %s%s\n",
			st.Received, o.in.iface, st.Dropped, st.Ignored, st.Flows, out.describe(), st.LimitNotes())
	}
	return finish(cmd, summary, err)
}
