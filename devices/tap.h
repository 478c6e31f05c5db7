/* Network back-end: a host tap device carrying Ethernet frames, each
 * preceded by a 12-byte virtio_net_hdr_v1 (IFF_VNET_HDR with
 * TUNSETVNETHDRSZ 12), so the guest's header passes through unchanged.
 *
 * The virtio-net front-end only calls tap_readv/tap_writev/tap_set_offload
 * on a struct tap; it never opens anything. Tests hand in one end of a
 * SOCK_SEQPACKET socketpair through tap_from_fd (one message = one frame
 * with its header; no ioctls are made on it).
 *
 * Non-blocking. Used from the VMM thread only; no locking. */
#ifndef FLINT_DEVICES_TAP_H
#define FLINT_DEVICES_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define TAP_VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */

struct tap {
	int fd;
	bool is_tun; /* a real tap: offloads can be set */
	char name[IFNAMSIZ];
};

/* Attach to the existing tap interface `name` (in the caller's network
 * namespace) through /dev/net/tun: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a
 * 12-byte vnet header, offloads off, O_NONBLOCK. Never creates one. 0 or
 * -errno: -ENODEV no such interface, -ENAMETOOLONG a name that does not fit
 * IFNAMSIZ, -EINVAL/-EBUSY an interface that is not a free tap. Start-up
 * only. */
int tap_open(struct tap *t, const char *name);
/* Adopt a socket that already carries header+frame messages (tests). Makes it
 * non-blocking. Closed by tap_close, also on failure. 0 or -errno. */
int tap_from_fd(struct tap *t, int fd);
void tap_close(struct tap *t);

/* Tell the tap which offloads the guest accepts on receive, from the
 * negotiated virtio-net features (VIRTIO_NET_F_GUEST_CSUM, GUEST_TSO4,
 * GUEST_TSO6; UFO is never enabled). A no-op for an adopted fd. 0 or -errno. */
int tap_set_offload(struct tap *t, uint64_t guest_features);
/* The TUN_F_* flags tap_set_offload uses for these features (pure). */
unsigned tap_offload_flags(uint64_t guest_features);

/* One frame (header included) in or out. Bytes moved, or -errno
 * (-EAGAIN: nothing to read / no room now). EINTR is retried. */
ssize_t tap_readv(const struct tap *t, const struct iovec *iov, int iovcnt);
ssize_t tap_writev(const struct tap *t, const struct iovec *iov, int iovcnt);

#endif
