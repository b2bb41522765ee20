// Package dpi is the meter's window onto nDPI, the deep packet inspection
// library NFStream uses for its L7 columns (application_name,
// application_category_name, application_is_guessed, application_confidence,
// requested_server_name, client_fingerprint, server_fingerprint, user_agent,
// content_type).
//
// It is the only package of the flow pipeline that uses cgo. It links
// Debian's nDPI 4.2 (pkg-config name libndpi) and hides it behind a pure-Go
// API, so the rest of the program never sees a C type:
//
//	meter (one goroutine per meter)
//	  Engine  = one nDPI detection module, created by New, released by Close
//	  Flow    = one nDPI flow state, created by NewFlow, released by FreeFlow
//	  Process(flow, ipBytes, ms) -> Protocol   per dissected packet
//	  ExtraDissectionPossible / GiveUp          NFStream's dissection budget
//	  Collect(flow, protocol) -> Info           the L7 columns, at expiry
//
// Built without cgo (CGO_ENABLED=0) the package still compiles: New returns
// an error wrapping ErrUnavailable and Version returns "", so the program can
// say that DPI is unavailable instead of failing to build.
//
// # Ownership
//
// An Engine owns its nDPI detection module (about 5 MB of C memory) and a
// small C scratch area used by Collect; Close releases both. An Engine is
// not safe for concurrent use: each meter goroutine creates its own, as
// NFStream gives each meter process its own module. nDPI keeps caches per
// module, so a classification from such a cache (confidence "DPI cache")
// depends on which flows the same Engine saw before (docs/compatibility.md item 5).
//
// A Flow is a handle to C memory owned by the caller (the meter's flow
// slot): it stays valid until FreeFlow, whatever happens to the Go value
// that holds it, and the garbage collector never frees it. Every Flow
// obtained from NewFlow must be passed to FreeFlow exactly once; FreeFlow
// resets the handle to the zero Flow, which every method accepts and treats
// as "no flow".
//
// The packet bytes given to Process are read during the call only; nDPI
// copies what it keeps. Process, ExtraDissectionPossible and GiveUp do not
// allocate Go memory. Collect allocates only the per-flow strings (server
// name, fingerprints, user agent, content type); application and category
// names are interned per Engine.
//
// # nDPI 4.2 against NFStream's nDPI
//
// NFStream 6.5.4 was built against an nDPI 4.7 development snapshot. The
// flow fields Collect reads have the same names and sizes in 4.2, and the
// calls have the same signatures (ndpi_detection_process_packet with five
// arguments, ndpi_detection_giveup with enable_guess and a guessed flag).
// The confidence enum differs: 4.2 numbers it 0 unknown, 1 match by port,
// 2 match by IP, 3 DPI cache, 4 DPI, while NFStream's tree numbers it 0
// unknown, 1 match by port, 2 nBPF, 3 DPI partial, 4 DPI partial cache,
// 5 DPI cache, 6 DPI, 7 match by IP. Info.Confidence is always given in
// NFStream's numbering (docs/compatibility.md item 7).
//
// # C memory accounting
//
// The cgo build installs counting wrappers as nDPI's allocator
// (set_ndpi_malloc, set_ndpi_free) when the program starts, before any nDPI
// allocation. They call malloc and free and keep a running total of the
// usable size of the blocks nDPI holds, which the tests use to show that
// freeing flows returns their memory. nDPI's own ndpi_get_tot_allocated_memory
// cannot show that: in 4.2 it only ever grows.
package dpi
