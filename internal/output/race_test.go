//go:build race

package output_test

// raceEnabled reports a build with the race detector, whose bookkeeping
// makes heap measurements meaningless and large runs slow.
const raceEnabled = true
