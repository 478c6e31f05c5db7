/* The Uffd memory backend of PUT /snapshot/load: guest RAM is left empty and
 * registered with a userfaultfd for missing pages; the userfaultfd and a
 * description of the regions go to an external page-fault handler over a
 * Unix socket, in Firecracker's format:
 *
 *   one SOCK_STREAM message whose data is a JSON array, one object per
 *   region, [{"base_host_virt_addr":N,"size":N,"offset":N,"page_size":N,
 *   "page_size_kib":N}] (offset: into the memory file; page_size in bytes,
 *   page_size_kib the deprecated alias Firecracker still sends, also in
 *   bytes), and the userfaultfd as SCM_RIGHTS ancillary data.
 *
 * The handler then serves every first touch of a page (UFFDIO_COPY), from
 * flint's vCPUs and devices alike. resources/uffd-handler/ has an example.
 * VMM thread, before the vCPUs run. */
#ifndef FLINT_SNAPSHOT_UFFD_H
#define FLINT_SNAPSHOT_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

#define SNAP_UFFD_MSG_MAX 1024

/* The JSON message for mem (page_size bytes per page) into buf. Returns
 * its length, or -ENOSPC. Pure. */
int snap_uffd_message(const struct guest_mem *mem, uint32_t page_size, char *buf, size_t cap);

/* Create the userfaultfd, register every region of mem for missing-page
 * faults, connect to sock_path and hand both over. Returns the userfaultfd
 * (the caller keeps it open for the VM's life) or -errno with f set. */
int snap_uffd_attach(const struct guest_mem *mem, uint32_t page_size, const char *sock_path,
		     struct fault *f);

#endif
