//go:build cgo && unix

package main

// The C constructor below runs while the program is loaded, before the Go
// runtime starts: it makes SIGHUP ignored until main's signal.Notify
// takes it over (the runtime keeps an inherited SIG_IGN for SIGHUP, and
// Notify then installs its handler). Without it a SIGHUP in the first
// milliseconds, while packages initialise, would kill the process.
// Without cgo that window stays open.

/*
#include <signal.h>

__attribute__((constructor)) static void nfstream_hold_sighup(void) {
	signal(SIGHUP, SIG_IGN);
}
*/
import "C"
