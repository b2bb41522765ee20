//go:build cgo && ndpi_count

package dpi

/*
#cgo pkg-config: libndpi
#include <stdlib.h>
#include <malloc.h>
#include <ndpi_api.h>

// Counting allocator for nDPI: the total usable size of the blocks nDPI
// holds. malloc_usable_size needs no header, so a block nDPI frees with
// ndpi_free but did not get from ndpi_malloc only skews the count.
static long long nfs_c_bytes;
static long long nfs_c_peak; // the most nfs_c_bytes reached since the last reset

static void *nfs_malloc(size_t n) {
	void *p = malloc(n);
	if (p != NULL) {
		long long v = __atomic_add_fetch(&nfs_c_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
		long long peak = __atomic_load_n(&nfs_c_peak, __ATOMIC_RELAXED);
		while (v > peak && !__atomic_compare_exchange_n(&nfs_c_peak, &peak, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	}
	return p;
}

static void nfs_free(void *p) {
	if (p == NULL)
		return;
	__atomic_fetch_sub(&nfs_c_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
	free(p);
}

// Installed while the program loads, before nDPI allocates anything.
__attribute__((constructor)) static void nfs_install_allocator(void) {
	set_ndpi_malloc(nfs_malloc);
	set_ndpi_free(nfs_free);
}

static long long nfs_allocated(void) {
	return __atomic_load_n(&nfs_c_bytes, __ATOMIC_RELAXED);
}

static long long nfs_peak(void) {
	return __atomic_load_n(&nfs_c_peak, __ATOMIC_RELAXED);
}

static void nfs_reset_peak(void) {
	__atomic_store_n(&nfs_c_peak, __atomic_load_n(&nfs_c_bytes, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}
*/
import "C"

// Counting says whether this build counts nDPI's C memory: only builds with
// the ndpi_count tag do (make test sets it), so that tests can show that
// metering leaves no C memory behind; the product keeps nDPI's own
// allocator and pays nothing for it.
const Counting = true

// AllocatedBytes returns the bytes of C memory nDPI holds right now, as the
// counting allocator sees them: detection modules, flow states and what
// nDPI attached to them. The count is process-wide, over every Engine.
func AllocatedBytes() int64 { return int64(C.nfs_allocated()) }

// PeakBytes returns the most C memory nDPI held since the last ResetPeak
// (or since the program started), process-wide like AllocatedBytes.
func PeakBytes() int64 { return int64(C.nfs_peak()) }

// ResetPeak starts a new PeakBytes measurement from what nDPI holds now.
func ResetPeak() { C.nfs_reset_peak() }
