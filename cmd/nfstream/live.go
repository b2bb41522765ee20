package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// runLive captures on an interface until SIGINT or SIGTERM (or the flow
// limit), then writes every flow in memory and reports what the kernel
// captured and dropped. The interface is opened before the output, so an
// interface that does not exist or missing privileges fail before any file
// is created.
func runLive(cmd *cobra.Command, o *options) error {
	rings, err := capture.OpenLive(o.in.liveConfig())
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
	st, err := pipeline.RunLive(cmd.Context(), o.pipelineConfig(), rings, out.sink, o.schema().Columns())
	out.done()
	if !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "nfstream: %d packets captured on %q (%d dropped by the kernel), %d ignored; %d flows written to %s\n",
			st.Received, o.in.iface, st.Dropped, st.Ignored, st.Flows, out.describe())
	}
	return err
}
