// Package pipeline wires the stages together for one run: capture sources
// in order, the decoder, the meter and a sink. It numbers flows in output
// order (NFStream's id), stops after --max-flows flows or -c packets, and on
// cancellation or a damaged capture still exports every flow read so far
// before returning the error.
package pipeline
