package main

import "testing"

// TestPluginMDNSCorpus runs every corpus capture with NFStream's output
// in plugins/mdns with --n-dissections 0 --plugin mdns and compares the
// CSV with NFStream's row for row, every column (udps.mdns_ptr included).
func TestPluginMDNSCorpus(t *testing.T) {
	comparePluginCorpus(t, "mdns", "mdns")
}
