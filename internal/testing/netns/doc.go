// Package netns is test support: network namespaces joined by a veth pair
// for live-capture tests; traffic only between them.
//
// A test makes a Pair (NewPair): two namespaces, A and B, each holding one
// end of a veth pair, with addresses in 10.200.x.0/24 that nothing else
// uses, IPv6 off (no neighbour discovery, no MLD) and static neighbour
// entries (no ARP), so the only packets on the link are the ones the test
// sends. Do and Go run Go code inside a namespace, so the sockets it opens
// belong there; Pair.Exec and Pair.Command run programs there.
//
// It needs root (namespaces, packet sockets) and the ip command of
// iproute2; without them Require and NewPair skip the test. The namespaces
// go away when the test ends.
//
// Only tests import it: it takes *testing.T and testing.TB, skips and
// fails tests, and is no part of nfstream.
package netns
