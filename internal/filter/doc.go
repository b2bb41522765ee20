// Package filter is BPF filtering: tcpdump filter expressions ("tcp port
// 443") compiled into classic BPF programs with libpcap's own compiler, so
// a filter means exactly what it means to tcpdump and to NFStream, and a
// Go interpreter running those programs with libpcap's bpf_filter
// semantics.
//
// Compile, CompileFile and CompileLive are the only cgo of the capture
// stage. They take link types as LINKTYPE_ numbers (DLT gives libpcap's
// DLT_ numbering of them). The programs they return are plain data: New
// makes a Filter that runs them over records of capture files in Go
// (Source applies one to a capture.Source, compiling for the link type and
// byte order its file header gives), and capture.OpenLive hands them to the
// kernel (SO_ATTACH_FILTER) for live capture, through LiveConfig.Program.
// In a build without cgo the compilers return an error wrapping
// ErrUnavailable that names the expression; matching and everything else
// still work, just without expressions to compile.
//
// Compiling and matching depend on nothing else of this module; only
// Source, the glue for capture files, uses package capture (which does not
// use this package).
package filter
