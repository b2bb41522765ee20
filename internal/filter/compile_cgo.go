//go:build cgo

package filter

/*
#cgo pkg-config: libpcap
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>

// nfs_open_header returns a savefile handle reading the classic pcap file
// header in hdr (which must outlive the handle), as pcap_open_offline
// would for a file starting with it.
static pcap_t *nfs_open_header(void *hdr, size_t len, char *errbuf) {
	FILE *f = fmemopen(hdr, len, "rb");
	if (f == NULL) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "fmemopen: %s", strerror(errno));
		return NULL;
	}
	pcap_t *p = pcap_fopen_offline(f, errbuf);
	if (p == NULL)
		fclose(f);
	return p;
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	netbpf "golang.org/x/net/bpf"
)

// compileMu serialises pcap_compile: libpcap 1.10 documents it as
// thread-safe, older versions were not, and compiling is never hot.
var compileMu sync.Mutex

// Compile compiles a filter expression for packets of the given link type
// (a LINKTYPE_ value, as capture files and Packet.LinkType carry it)
// captured with the given snapshot length, on a handle from pcap_open_dead
// (so neither a file nor a live interface): pcap_compile with optimisation
// on and the netmask 0xffffff00, as NFStream calls it, then pcap_freecode.
// Accepting paths of the program return snaplen, so a kernel running it
// truncates packets to snaplen bytes. An expression libpcap rejects gives
// a *CompileError with libpcap's message; the empty expression gives a
// program that accepts everything.
//
// For capture files use CompileFile, and for live capture CompileLive: a
// dead handle differs from both in a few corners (DLT_NULL's IPv6 values,
// VLAN tags the kernel took out of the frame).
func Compile(expr string, link uint32, snaplen int) ([]netbpf.RawInstruction, error) {
	if err := checkSnaplen(expr, snaplen); err != nil {
		return nil, err
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	p := C.pcap_open_dead(C.int(DLT(link)), C.int(snaplen))
	if p == nil {
		return nil, fmt.Errorf("filter %q: libpcap cannot open a handle for link type %d", expr, link)
	}
	defer C.pcap_close(p)
	return compile(p, expr)
}

// CompileFile compiles a filter expression as libpcap does for a capture
// file (pcap_open_offline, then pcap_compile as in Compile): records of
// the given link type, the file's snapshot length, and swapped set when
// the file's byte order is not the host's. Only the savefile flavour of
// libpcap's code generator checks the three BSD values of AF_INET6 in
// DLT_NULL headers, and byte-swaps them for a swapped file. Source uses
// it for the records of capture files.
func CompileFile(expr string, link uint32, snaplen int, swapped bool) ([]netbpf.RawInstruction, error) {
	if err := checkSnaplen(expr, snaplen); err != nil {
		return nil, err
	}
	// A classic pcap file header, version 2.4, in the host's byte order
	// or the other one; libpcap reads it as it would a real file.
	hostBig := binary.NativeEndian.Uint16([]byte{0, 1}) == 1
	var bo binary.AppendByteOrder = binary.LittleEndian
	if hostBig != swapped {
		bo = binary.BigEndian
	}
	hdr := bo.AppendUint32(nil, 0xa1b2c3d4)
	hdr = bo.AppendUint16(hdr, 2)
	hdr = bo.AppendUint16(hdr, 4)
	hdr = bo.AppendUint32(hdr, 0) // thiszone
	hdr = bo.AppendUint32(hdr, 0) // sigfigs
	hdr = bo.AppendUint32(hdr, uint32(snaplen))
	hdr = bo.AppendUint32(hdr, link)
	chdr := C.CBytes(hdr)
	defer C.free(chdr)

	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	compileMu.Lock()
	defer compileMu.Unlock()
	p := C.nfs_open_header(chdr, C.size_t(len(hdr)), &errbuf[0])
	if p == nil {
		return nil, fmt.Errorf("filter %q: libpcap cannot make a handle for link type %d: %s", expr, link, C.GoString(&errbuf[0]))
	}
	defer C.pcap_close(p)
	return compile(p, expr)
}

// CompileLive compiles a filter expression as libpcap does for a live
// capture on the interface (pcap_create and pcap_activate with the given
// snapshot length, then pcap_compile as in Compile), which is what
// NFStream attaches to its sockets. On Linux the program then reads VLAN
// tags from the kernel's packet metadata, where the kernel keeps the tags
// it took out of frames, so "vlan" filters work live. Activating the
// handle needs the same privileges as capturing; the handle is closed
// before CompileLive returns. The program goes to capture.OpenLive in
// LiveConfig.Program.
func CompileLive(expr, iface string, snaplen int) ([]netbpf.RawInstruction, error) {
	if err := checkSnaplen(expr, snaplen); err != nil {
		return nil, err
	}
	ciface := C.CString(iface)
	defer C.free(unsafe.Pointer(ciface))
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	compileMu.Lock()
	defer compileMu.Unlock()
	p := C.pcap_create(ciface, &errbuf[0])
	if p == nil {
		return nil, fmt.Errorf("filter %q: libpcap cannot open %q: %s", expr, iface, C.GoString(&errbuf[0]))
	}
	defer C.pcap_close(p)
	C.pcap_set_snaplen(p, C.int(snaplen))
	C.pcap_set_buffer_size(p, 1) // the smallest ring: nothing is read
	if rc := C.pcap_activate(p); rc < 0 {
		msg := C.GoString(C.pcap_geterr(p))
		if msg == "" {
			msg = C.GoString(C.pcap_statustostr(rc))
		}
		return nil, fmt.Errorf("filter %q: libpcap cannot open %q: %s", expr, iface, msg)
	}
	return compile(p, expr)
}

// compile runs pcap_compile on a handle and copies the program out;
// compileMu is held.
func compile(p *C.pcap_t, expr string) ([]netbpf.RawInstruction, error) {
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	var prog C.struct_bpf_program
	if C.pcap_compile(p, &prog, cexpr, 1, C.bpf_u_int32(Netmask)) != 0 {
		return nil, &CompileError{Expr: expr, Msg: C.GoString(C.pcap_geterr(p))}
	}
	defer C.pcap_freecode(&prog)
	cins := unsafe.Slice(prog.bf_insns, int(prog.bf_len))
	insns := make([]netbpf.RawInstruction, len(cins))
	for i, c := range cins {
		insns[i] = netbpf.RawInstruction{Op: uint16(c.code), Jt: uint8(c.jt), Jf: uint8(c.jf), K: uint32(c.k)}
	}
	return insns, nil
}
