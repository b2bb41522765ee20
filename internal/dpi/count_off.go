//go:build !(cgo && ndpi_count)

package dpi

// Counting says whether this build counts nDPI's C memory (see the
// ndpi_count build tag); this one does not.
const Counting = false

// AllocatedBytes returns -1: this build does not count nDPI's memory.
func AllocatedBytes() int64 { return -1 }

// PeakBytes returns -1: this build does not count nDPI's memory.
func PeakBytes() int64 { return -1 }

// ResetPeak does nothing in this build.
func ResetPeak() {}
