/* userfaultfd set-up and the hand-over to a page-fault handler. */
#include "snapshot/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int snap_uffd_message(const struct guest_mem *mem, uint32_t page_size, char *buf, size_t cap)
{
	size_t len = 0;
	uint64_t off = 0;
	int n;

	n = snprintf(buf, cap, "[");
	for (int i = 0; n >= 0 && (size_t)n < cap - len && i < mem->nregions; i++) {
		const struct gm_region *r = &mem->regions[i];

		len += (size_t)n;
		n = snprintf(buf + len, cap - len,
			     "%s{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
			     "\"page_size\":%u,\"page_size_kib\":%u}",
			     i ? "," : "", (unsigned long long)(uintptr_t)r->host,
			     (unsigned long long)r->size, (unsigned long long)off, page_size,
			     page_size);
		off += r->size;
	}
	if (n < 0 || (size_t)n >= cap - len)
		return -ENOSPC;
	len += (size_t)n;
	n = snprintf(buf + len, cap - len, "]");
	if (n < 0 || (size_t)n >= cap - len)
		return -ENOSPC;
	return (int)(len + (size_t)n);
}

/* A userfaultfd through the syscall, or /dev/userfaultfd where the syscall
 * is limited to privileged users (vm.unprivileged_userfaultfd = 0). */
static int snap_uffd_open(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int dev;

	if (fd >= 0 || (errno != EPERM && errno != ENOSYS))
		return fd >= 0 ? fd : -errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -EPERM;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd >= 0 ? fd : -errno;
}

static int snap_uffd_register(int uffd, const struct guest_mem *mem, struct fault *f)
{
	struct uffdio_api api = {.api = UFFD_API};

	if (ioctl(uffd, UFFDIO_API, &api)) {
		fault_set(f, "UFFDIO_API failed: %s", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < mem->nregions; i++) {
		struct uffdio_register reg = {
		    .range = {.start = (uint64_t)(uintptr_t)mem->regions[i].host,
			      .len = mem->regions[i].size},
		    .mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			int err = -errno;
			fault_set(f, "registering guest memory with userfaultfd failed: %s",
				  strerror(errno));
			return err;
		}
	}
	return 0;
}

static int snap_uffd_send(int uffd, const char *msg, size_t len, const char *sock_path,
			  struct fault *f)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	int s, err = 0;

	if (strlen(sock_path) >= sizeof(addr.sun_path)) {
		fault_set(f, "the uffd socket path is too long");
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		err = -errno;
		fault_set(f, "cannot connect to the page-fault handler at '%s': %s", sock_path,
			  strerror(errno));
		goto out;
	}
	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)len) {
		err = -EIO;
		fault_set(f, "cannot send the userfaultfd to the handler at '%s'", sock_path);
	}
out:
	if (s >= 0)
		close(s);
	return err;
}

int snap_uffd_attach(const struct guest_mem *mem, uint32_t page_size, const char *sock_path,
		     struct fault *f)
{
	char msg[SNAP_UFFD_MSG_MAX];
	int len = snap_uffd_message(mem, page_size, msg, sizeof(msg));
	int uffd = snap_uffd_open(), err;

	if (uffd < 0) {
		fault_set(f, "cannot create a userfaultfd: %s", strerror(-uffd));
		return uffd;
	}
	err = len < 0 ? len : snap_uffd_register(uffd, mem, f);
	if (!err)
		err = snap_uffd_send(uffd, msg, (size_t)len, sock_path, f);
	if (err) {
		close(uffd);
		return err;
	}
	return uffd;
}
