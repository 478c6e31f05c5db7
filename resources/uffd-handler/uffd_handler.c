/* Example userfaultfd page-fault handler for flint's Uffd snapshot backend
 * (see README.md): serves every missing page of the guest's memory from the
 * snapshot memory file with UFFDIO_COPY. The message from flint is
 * untrusted input to this process too: every region is checked against the
 * memory file before a fault is served from it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 8
#define MSG_MAX	    4096

struct region {
	uint64_t base, size, offset, page_size;
};

struct handler {
	int uffd;
	int pidfd;	     /* flint's process: readable once it has exited */
	const uint8_t *file; /* the memory file, mapped read-only */
	uint64_t file_size;
	struct region regions[MAX_REGIONS];
	int nregions;
	uint64_t served;
};

/* The number after "key": in the object starting at obj, or -1 if absent. */
static int json_u64(const char *obj, const char *end, const char *key, uint64_t *out)
{
	char pat[40];
	const char *p;
	char *stop;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || p >= end)
		return -1;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	errno = 0;
	*out = strtoull(p, &stop, 10);
	return errno || stop == p ? -1 : 0;
}

/* Parse flint's (Firecracker's) region list: a JSON array of flat objects. */
static int parse_regions(struct handler *h, const char *msg)
{
	const char *p = msg;

	while ((p = strchr(p, '{')) != NULL) {
		const char *end = strchr(p, '}');
		struct region *r = &h->regions[h->nregions];
		uint64_t last;

		if (!end || h->nregions >= MAX_REGIONS)
			return -1;
		if (json_u64(p, end, "base_host_virt_addr", &r->base) ||
		    json_u64(p, end, "size", &r->size) || json_u64(p, end, "offset", &r->offset) ||
		    json_u64(p, end, "page_size", &r->page_size))
			return -1;
		if (r->page_size == 0 || (r->page_size & (r->page_size - 1)) ||
		    r->base % r->page_size || r->size % r->page_size ||
		    __builtin_add_overflow(r->offset, r->size, &last) || last > h->file_size)
			return -1;
		h->nregions++;
		p = end + 1;
	}
	return h->nregions > 0 ? 0 : -1;
}

static int receive(struct handler *h, int conn)
{
	char msg[MSG_MAX + 1], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = msg, .iov_len = MSG_MAX};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return -1;
	msg[n] = 0;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&h->uffd, CMSG_DATA(c), sizeof(int));
	return parse_regions(h, msg);
}

static const struct region *find_region(const struct handler *h, uint64_t addr)
{
	for (int i = 0; i < h->nregions; i++)
		if (addr >= h->regions[i].base && addr - h->regions[i].base < h->regions[i].size)
			return &h->regions[i];
	return NULL;
}

static int serve_fault(struct handler *h, uint64_t addr)
{
	const struct region *r = find_region(h, addr);
	struct uffdio_copy copy;
	uint64_t page;

	if (!r) {
		fprintf(stderr, "uffd-handler: fault at 0x%llx outside every region\n",
			(unsigned long long)addr);
		return -1;
	}
	page = addr & ~(r->page_size - 1);
	copy = (struct uffdio_copy){
	    .dst = page,
	    .src = (uint64_t)(uintptr_t)(h->file + r->offset + (page - r->base)),
	    .len = r->page_size,
	};
	if (ioctl(h->uffd, UFFDIO_COPY, &copy) != 0 && errno != EEXIST) {
		/* EAGAIN: the mapping changed meanwhile; the fault comes again */
		if (errno == EAGAIN)
			return 0;
		perror("uffd-handler: UFFDIO_COPY");
		return -1;
	}
	h->served++;
	return 0;
}

static int serve(struct handler *h)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = h->uffd, .events = POLLIN},
				      {.fd = h->pidfd, .events = POLLIN}};
		struct uffd_msg m;
		ssize_t n;

		if (poll(p, h->pidfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* The userfaultfd stays open here after flint exits: its exit
		 * is seen through the pidfd. */
		if ((p[0].revents & (POLLERR | POLLHUP)) || p[1].revents)
			return 0;
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(h->uffd, &m, sizeof(m));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(m))
			return n == 0 ? 0 : -1;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		if (serve_fault(h, m.arg.pagefault.address))
			return -1;
	}
}

/* A pidfd for the process at the other end of conn, or -1. */
static int watch_peer(int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -1;
	return (int)syscall(SYS_pidfd_open, cred.pid, 0);
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
		perror("uffd-handler: socket");
		return -1;
	}
	return s;
}

static int map_file(struct handler *h, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
		fprintf(stderr, "uffd-handler: cannot open %s\n", path);
		return -1;
	}
	h->file_size = (uint64_t)st.st_size;
	p = mmap(NULL, h->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	h->file = p;
	return 0;
}

int main(int argc, char **argv)
{
	struct handler h = {.uffd = -1, .pidfd = -1};
	int s, conn, rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET MEMORY_FILE\n", argv[0]);
		return 2;
	}
	if (map_file(&h, argv[2]) || (s = listen_on(argv[1])) < 0)
		return 1;
	conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || receive(&h, conn)) {
		fprintf(stderr, "uffd-handler: bad hand-over from flint\n");
		return 1;
	}
	h.pidfd = watch_peer(conn);
	close(conn);
	close(s);
	fprintf(stderr, "uffd-handler: serving %d regions\n", h.nregions);
	rc = serve(&h);
	fprintf(stderr, "uffd-handler: served %llu pages\n", (unsigned long long)h.served);
	return rc ? 1 : 0;
}
