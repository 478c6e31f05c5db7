/* Tap back-end over /dev/net/tun. */
#include "devices/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#define TAP_TUN_PATH "/dev/net/tun"

static int tap_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int tap_setup(struct tap *t, const char *name)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name)); /* < IFNAMSIZ: checked by the caller */
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	/* The header the guest uses with VIRTIO_F_VERSION_1 (num_buffers included). */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return -errno;
	/* No offloads until the guest says what it accepts. */
	if (ioctl(t->fd, TUNSETOFFLOAD, 0UL) < 0)
		return -errno;
	memcpy(t->name, ifr.ifr_name, sizeof(t->name));
	t->name[sizeof(t->name) - 1] = '\0';
	return 0;
}

int tap_open(struct tap *t, const char *name)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	/* TUNSETIFF would quietly create a missing tap (we may hold
	 * CAP_NET_ADMIN): a typo must be an error instead. */
	if (if_nametoindex(name) == 0)
		return -ENODEV;
	t->fd = open(TAP_TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	t->is_tun = true;
	err = tap_setup(t, name);
	if (err)
		tap_close(t);
	return err;
}

int tap_from_fd(struct tap *t, int fd)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->fd = fd;
	err = tap_set_nonblock(fd);
	if (err)
		tap_close(t);
	return err;
}

void tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

unsigned tap_offload_flags(uint64_t guest_features)
{
	unsigned fl = 0;

	/* TSO needs checksum offload (the tun driver refuses TSO alone). */
	if (!(guest_features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	fl |= TUN_F_CSUM;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		fl |= TUN_F_TSO4;
	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		fl |= TUN_F_TSO6;
	return fl;
}

int tap_set_offload(struct tap *t, uint64_t guest_features)
{
	if (!t->is_tun)
		return 0;
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tap_offload_flags(guest_features)) < 0)
		return -errno;
	return 0;
}

ssize_t tap_readv(const struct tap *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	do
		n = readv(t->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t tap_writev(const struct tap *t, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	/* An adopted fd is a socket: a closed peer must not raise SIGPIPE. */
	do
		n = t->is_tun ? writev(t->fd, iov, iovcnt) : sendmsg(t->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
