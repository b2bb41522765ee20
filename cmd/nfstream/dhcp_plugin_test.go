package main

import "testing"

// TestPluginDHCPCorpus runs every corpus capture with NFStream's output
// in plugins/dhcp with --n-dissections 0 --plugin dhcp and compares the
// CSV with NFStream's row for row, every column (udps.dhcp_12 ...
// udps.dhcp_oui included).
func TestPluginDHCPCorpus(t *testing.T) {
	comparePluginCorpus(t, "dhcp", "dhcp")
}
