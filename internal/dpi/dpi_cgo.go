//go:build cgo

package dpi

/*
#cgo pkg-config: libndpi
#include <stdlib.h>
#include <string.h>
#include <ndpi_api.h>

// Sizes of the nDPI 4.2 flow fields Collect reads, so Go never assumes them.
enum {
	nfs_host_len = sizeof(((struct ndpi_flow_struct *)0)->host_server_name),
	nfs_dhcp_fp_len = sizeof(((struct ndpi_flow_struct *)0)->protos.dhcp.fingerprint),
	nfs_hassh_len = sizeof(((struct ndpi_flow_struct *)0)->protos.ssh.hassh_client),
	nfs_ja3_len = sizeof(((struct ndpi_flow_struct *)0)->protos.tls_quic.ja3_client),
};

// nfs_fields is Collect's view of one flow, filled by nfs_collect in a
// single cgo call. app holds ndpi_protocol2name's output; every pointer
// points into nDPI memory that stays valid until the flow or the module is
// freed (user_agent and content_type may be NULL).
typedef struct {
	char app[40];
	const char *category;
	const char *host;
	const char *dhcp_fp;
	const char *user_agent;
	const char *content_type;
	const char *hassh_client;
	const char *hassh_server;
	const char *ja3_client;
	const char *ja3_server;
	unsigned int confidence;
} nfs_fields;

static void nfs_collect(struct ndpi_detection_module_struct *m, struct ndpi_flow_struct *f,
                        ndpi_protocol p, nfs_fields *o) {
	ndpi_protocol2name(m, p, o->app, sizeof(o->app));
	o->category = ndpi_category_get_name(m, p.category);
	o->host = f->host_server_name;
	o->dhcp_fp = f->protos.dhcp.fingerprint;
	o->user_agent = f->http.user_agent;
	o->content_type = f->http.content_type;
	o->hassh_client = f->protos.ssh.hassh_client;
	o->hassh_server = f->protos.ssh.hassh_server;
	o->ja3_client = f->protos.tls_quic.ja3_client;
	o->ja3_server = f->protos.tls_quic.ja3_server;
	o->confidence = (unsigned int)f->confidence;
}

static struct ndpi_detection_module_struct *nfs_new_module(void) {
	struct ndpi_detection_module_struct *m = ndpi_init_detection_module(ndpi_no_prefs);
	if (m == NULL)
		return NULL;
	NDPI_PROTOCOL_BITMASK all;
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(m, &all);
	ndpi_finalize_initialization(m);
	return m;
}

static struct ndpi_flow_struct *nfs_new_flow(void) {
	struct ndpi_flow_struct *f = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
	if (f != NULL)
		memset(f, 0, SIZEOF_FLOW_STRUCT);
	return f;
}

// nfs_giveup returns the guessed flag with the protocol, so that Go passes
// no pointer (which would escape and allocate).
typedef struct {
	ndpi_protocol proto;
	u_int8_t guessed;
} nfs_giveup_result;

static nfs_giveup_result nfs_giveup(struct ndpi_detection_module_struct *m, struct ndpi_flow_struct *f) {
	nfs_giveup_result r;
	r.guessed = 0;
	r.proto = ndpi_detection_giveup(m, f, 1, &r.guessed);
	return r;
}
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"
)

// The protocol ids in dpi.go must be nDPI 4.2's: a mismatch makes one of
// these array indexes non-zero and fails the build.
var _ = [1]struct{}{}[protoUnknown-C.NDPI_PROTOCOL_UNKNOWN]
var _ = [1]struct{}{}[protoDHCP-C.NDPI_PROTOCOL_DHCP]
var _ = [1]struct{}{}[protoHTTP-C.NDPI_PROTOCOL_HTTP]
var _ = [1]struct{}{}[protoSSH-C.NDPI_PROTOCOL_SSH]
var _ = [1]struct{}{}[protoTLS-C.NDPI_PROTOCOL_TLS]
var _ = [1]struct{}{}[protoDTLS-C.NDPI_PROTOCOL_DTLS]
var _ = [1]struct{}{}[protoMailSMTPS-C.NDPI_PROTOCOL_MAIL_SMTPS]
var _ = [1]struct{}{}[protoMailIMAPS-C.NDPI_PROTOCOL_MAIL_IMAPS]
var _ = [1]struct{}{}[protoMailPOPS-C.NDPI_PROTOCOL_MAIL_POPS]
var _ = [1]struct{}{}[protoQUIC-C.NDPI_PROTOCOL_QUIC]

// Buffer sizes of NFStream's nf_flow fields, in bytes including the NUL
// that ndpi_snprintf or the zeroed buffer keeps at the end.
const (
	categoryCopyLen = 24  // memcpy(flow->category_name, name, 24)
	userAgentLen    = 256 // char user_agent[256]
	contentTypeLen  = 64  // char content_type[64]
)

// moduleMu serialises ndpi_init_detection_module and
// ndpi_exit_detection_module, which nDPI says must not run in parallel.
var moduleMu sync.Mutex

// Version returns the version of the nDPI library linked in, as
// ndpi_revision reports it (for example "4.2.0").
func Version() string { return C.GoString(C.ndpi_revision()) }

// Engine is one nDPI detection module with every protocol enabled. It is
// not safe for concurrent use: give each meter its own.
type Engine struct {
	mod    *C.struct_ndpi_detection_module_struct
	fields *C.nfs_fields     // Collect's scratch, C memory
	names  map[string]string // interned application and category names
}

// New creates a detection module as NFStream does:
// ndpi_init_detection_module(ndpi_no_prefs), every protocol enabled, then
// ndpi_finalize_initialization. Release it with Close.
func New() (*Engine, error) {
	fields := (*C.nfs_fields)(C.calloc(1, C.sizeof_nfs_fields))
	if fields == nil {
		return nil, errors.New("dpi: out of memory for the collect buffer")
	}
	moduleMu.Lock()
	mod := C.nfs_new_module()
	moduleMu.Unlock()
	if mod == nil {
		C.free(unsafe.Pointer(fields))
		return nil, errors.New("dpi: ndpi_init_detection_module failed")
	}
	return &Engine{mod: mod, fields: fields, names: make(map[string]string)}, nil
}

// Close releases the detection module (ndpi_exit_detection_module). Flows
// still allocated stay valid for FreeFlow only. Close is idempotent.
func (e *Engine) Close() {
	if e == nil || e.mod == nil {
		return
	}
	moduleMu.Lock()
	C.ndpi_exit_detection_module(e.mod)
	moduleMu.Unlock()
	C.free(unsafe.Pointer(e.fields))
	e.mod, e.fields, e.names = nil, nil, nil
}

// NewFlow allocates a zeroed nDPI flow state (ndpi_flow_malloc of
// SIZEOF_FLOW_STRUCT, as NFStream does). It returns the zero Flow when the
// Engine is closed or C memory is exhausted. It allocates no Go memory.
func (e *Engine) NewFlow() Flow {
	if e == nil || e.mod == nil {
		return Flow{}
	}
	return Flow{p: unsafe.Pointer(C.nfs_new_flow())}
}

// FreeFlow releases the flow state (ndpi_flow_free, which also frees the
// strings nDPI attached to it) and sets *f to the zero Flow. It does
// nothing for the zero Flow, and works after Close.
func (e *Engine) FreeFlow(f *Flow) {
	if f == nil || f.p == nil {
		return
	}
	C.ndpi_flow_free(f.p)
	*f = Flow{}
}

func (f Flow) c() *C.struct_ndpi_flow_struct { return (*C.struct_ndpi_flow_struct)(f.p) }

func goProtocol(p C.ndpi_protocol) Protocol {
	return Protocol{Master: uint16(p.master_protocol), App: uint16(p.app_protocol), Category: uint32(p.category)}
}

// Process hands one packet to nDPI (ndpi_detection_process_packet) and
// returns the flow's classification so far. ip holds the bytes from the IP
// header to the end of the capture; nDPI reads them during the call only.
// Its length is passed as C's unsigned short, so like NFStream's C code a
// packet longer than 65535 bytes is seen modulo 65536. timeMS is the packet
// time in milliseconds. It returns the zero Protocol for the zero Flow or a
// closed Engine, and allocates no Go memory.
func (e *Engine) Process(f Flow, ip []byte, timeMS uint64) Protocol {
	if e == nil || e.mod == nil || f.p == nil {
		return Protocol{}
	}
	r := C.ndpi_detection_process_packet(e.mod, f.c(), (*C.uchar)(unsafe.SliceData(ip)),
		C.ushort(len(ip)), C.uint64_t(timeMS))
	return goProtocol(r)
}

// ExtraDissectionPossible reports whether nDPI can still learn more about
// an identified flow (ndpi_extra_dissection_possible), for example the
// TLS server certificate and JA3S after the ClientHello. NFStream keeps
// dissecting an identified flow while this holds.
func (e *Engine) ExtraDissectionPossible(f Flow) bool {
	if e == nil || e.mod == nil || f.p == nil {
		return false
	}
	return C.ndpi_extra_dissection_possible(e.mod, f.c()) != 0
}

// GiveUp ends detection for the flow (ndpi_detection_giveup with guessing
// enabled) and returns the final classification, and whether it was
// guessed from ports or addresses rather than found by DPI.
func (e *Engine) GiveUp(f Flow) (p Protocol, guessed bool) {
	if e == nil || e.mod == nil || f.p == nil {
		return Protocol{}, false
	}
	r := C.nfs_giveup(e.mod, f.c())
	return goProtocol(r.proto), r.guessed != 0
}

// Collect returns the L7 columns of the flow as NFStream 6.5.4's
// flow_bidirectional_dissection_collect_info fills them, for p, the last
// Protocol Process or GiveUp returned for the flow:
//
//   - Application is ndpi_protocol2name(p.Master, p.App) and Category the
//     name of p.Category (first 24 bytes), RequestedServerName the flow's
//     host_server_name, Confidence the flow's confidence in NFStream's
//     numbering.
//   - Then the first of these that p matches (Master or App equal to it):
//     DHCP: ClientFingerprint is the DHCP fingerprint. HTTP: UserAgent and
//     ContentType. SSH: ClientFingerprint and ServerFingerprint are the
//     HASSH client and server hashes. TLS, DTLS, SMTPS, IMAPS, POPS, QUIC:
//     UserAgent, and the JA3 client and JA3S server hashes.
//
// Each string is read as NFStream reads its C buffer: up to the first NUL
// within the buffer's size, then decoded as UTF-8 with invalid bytes
// dropped. Unlike NFStream's collector, which writes into buffers that
// keep earlier values, Collect starts from empty fields each time; that is
// the same as NFStream without plugins, which collects once, at expiry.
//
// Collect returns the zero Info for the zero Flow or a closed Engine.
func (e *Engine) Collect(f Flow, p Protocol) Info {
	if e == nil || e.mod == nil || f.p == nil {
		return Info{}
	}
	o := e.fields
	cp := C.ndpi_protocol{
		master_protocol: C.u_int16_t(p.Master),
		app_protocol:    C.u_int16_t(p.App),
		category:        C.ndpi_protocol_category_t(p.Category),
	}
	C.nfs_collect(e.mod, f.c(), cp, o)

	info := Info{
		Application:         e.intern(cBytes((*C.char)(unsafe.Pointer(&o.app[0])), len(o.app))),
		Category:            e.intern(cBytes(o.category, categoryCopyLen)),
		Confidence:          nfstreamConfidence(uint32(o.confidence)),
		RequestedServerName: cStr(o.host, C.nfs_host_len),
	}
	switch {
	case p.is(protoDHCP):
		info.ClientFingerprint = cStr(o.dhcp_fp, C.nfs_dhcp_fp_len)
	case p.is(protoHTTP):
		info.UserAgent = cStr(o.user_agent, userAgentLen-1)
		info.ContentType = cStr(o.content_type, contentTypeLen-1)
	case p.is(protoSSH):
		info.ClientFingerprint = cStr(o.hassh_client, C.nfs_hassh_len)
		info.ServerFingerprint = cStr(o.hassh_server, C.nfs_hassh_len)
	case p.isTLSFamily():
		info.UserAgent = cStr(o.user_agent, userAgentLen-1)
		info.ClientFingerprint = cStr(o.ja3_client, C.nfs_ja3_len)
		info.ServerFingerprint = cStr(o.ja3_server, C.nfs_ja3_len)
	}
	return info
}

// cBytes returns the C string at p as a Go slice over the C memory: the
// bytes before the first NUL, reading at most max bytes (never past the
// NUL, so a short string at the end of an allocation is safe). A NULL p
// gives nil.
func cBytes(p *C.char, max int) []byte {
	if p == nil {
		return nil
	}
	base := unsafe.Pointer(p)
	n := 0
	for n < max && *(*byte)(unsafe.Add(base, n)) != 0 {
		n++
	}
	return unsafe.Slice((*byte)(base), n)
}

// cStr decodes the C string at p (at most max bytes) into a new Go string.
func cStr(p *C.char, max int) string {
	b := cBytes(p, max)
	if len(b) == 0 {
		return ""
	}
	return decodeIgnore(b)
}

// intern returns the decoded string for b, a name from nDPI's small set of
// protocol and category names, allocating only the first time it is seen.
func (e *Engine) intern(b []byte) string {
	if s, ok := e.names[string(b)]; ok {
		return s
	}
	s := decodeIgnore(b)
	e.names[string(b)] = s
	return s
}
