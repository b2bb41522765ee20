// Package features holds the flow state, the flow record and the per-packet
// feature computations of the meter stage: the core counters, the 48 statistical
// features (Welford updates in NFStream's exact order, so floats match its
// output to the last bit) and the early-flow SPLT sequences. It also defines
// the output schema: the column names, in NFStream's order, and how each
// value is read from a Record.
//
// A flow has two forms: a Flow while it is metered, laid out so a packet
// touches as few cache lines as possible, and a Record once it expires,
// which is what sinks read (Config.Export turns one into the other).
//
// The computations follow NFStream 6.5.4's C engine (flow_init_* and
// flow_update_* in lib_engine.c) and its Python sync step (flow.py), which
// turns the running sums of squares into sample standard deviations.
package features
