// Package bpf compiles tcpdump filter expressions ("tcp port 443") into
// classic BPF programs with libpcap's own compiler, so a filter means
// exactly what it means to tcpdump and to NFStream.
//
// Compile is the only cgo in the capture stage. The programs it returns are
// plain data: capture.NewFilter runs them over records of capture files in
// Go, and capture.OpenLive hands them to the kernel (SO_ATTACH_FILTER) for
// live capture. In a build without cgo Compile returns an error wrapping
// ErrUnavailable that names the expression; everything else still works,
// just without filters.
package bpf
