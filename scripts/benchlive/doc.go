// Package benchlive is the live capture benchmark of nfstream. Its frame
// sender writes through github.com/mdlayher/packet, the library live
// capture opens its sockets with.
//
// BenchmarkLiveVeth makes two network namespaces joined by a veth pair. A
// raw packet socket in namespace A writes prebuilt Ethernet/IPv4/UDP frames
// of many 5-tuples into its end of the pair. The benchmark measures, in one
// run:
//
//   - the sender's own maximum rate with nothing capturing (the frames that
//     reach B, from B's interface counters);
//   - for reference, the sender's rate while tcpdump captures on B's end:
//     on a veth pair B's receive path, capture included, runs on the
//     sender's CPU, so any capture slows the sender down;
//   - for nfstream -i on B's end (--n-dissections 0) with one meter and with
//     two, the highest rate at which nfstream captures every frame sent and
//     the kernel drops none: first as fast as the sender can go, then, if
//     that lost frames, a bisection over paced rates below it.
//
// It reports each rate and its ratio to the sender's maximum (the better
// of a measurement before and one after the searches). Run it as root with
// scripts/bench-live, which builds nfstream, passes it in and runs the
// benchmark in both set-ups:
//
//   - as the pair comes: B's receive path, and with it the kernel's copy of
//     every frame into the capture's ring, runs on the sender's thread. The
//     ratio then measures what any capture costs the sender (tcpdump's
//     reference ratio is as low as nfstream's);
//   - with -rps: the sender pinned to CPU 0 and B's receive processing
//     steered to the other CPUs by receive packet steering, as on a sensor
//     whose NIC interrupts a core other than the traffic source's. The
//     ratio then measures whether nfstream keeps up with the sender.
package benchlive
