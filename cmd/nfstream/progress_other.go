//go:build !unix

package main

import "io"

// isTerminal: no progress line here.
func isTerminal(w io.Writer) bool { return false }

func terminalWidth(w io.Writer) int { return 80 }
