/* vsock-echo: a tiny static guest-side tool for flint's vsock tests.
 *
 *   vsock-echo listen PORT        accept connections on PORT (any CID) and
 *                                 echo every byte back; one connection at a
 *                                 time, forever.
 *   vsock-echo connect CID PORT   connect to CID:PORT (CID 2 is the host),
 *                                 copy stdin to the connection and the
 *                                 connection to stdout; exits when the peer
 *                                 closes (after stdin's EOF was sent on).
 *
 * Exit status: 0 on a clean end, 1 on an error, 2 on a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define VE_BUF_SIZE 65536

static int ve_parse_u32(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > UINT_MAX || s[0] == '-')
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* Writes all of buf, retrying short writes. */
static int ve_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies one read's worth from in to out. Returns bytes copied, 0 on EOF,
 * -errno on error. */
static ssize_t ve_copy_once(int in, int out, char *buf)
{
	ssize_t n;
	int err;

	do
		n = read(in, buf, VE_BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	err = ve_write_all(out, buf, (size_t)n);
	return err ? err : n;
}

static int ve_echo(int conn, char *buf)
{
	ssize_t n;

	while ((n = ve_copy_once(conn, conn, buf)) > 0)
		;
	return (int)n;
}

static int ve_listen(unsigned int port, char *buf)
{
	struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY};
	int fd, err;

	addr.svm_port = port;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	for (;;) {
		int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err = -errno;
			close(fd);
			return err;
		}
		err = ve_echo(conn, buf);
		if (err)
			fprintf(stderr, "vsock-echo: connection: %s\n", strerror(-err));
		close(conn);
	}
}

/* Pumps stdin -> conn and conn -> stdout until the peer closes. */
static int ve_pump(int conn, char *buf)
{
	struct pollfd pfd[2] = {{.fd = 0, .events = POLLIN}, {.fd = conn, .events = POLLIN}};
	ssize_t n;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents) {
			n = ve_copy_once(conn, 1, buf);
			if (n <= 0)
				return (int)n;
		}
		if (pfd[0].revents) {
			n = ve_copy_once(0, conn, buf);
			if (n < 0)
				return (int)n;
			if (n == 0) {
				/* Pass the EOF on, keep reading the reply. */
				shutdown(conn, SHUT_WR);
				pfd[0].fd = -1;
			}
		}
	}
}

static int ve_connect(unsigned int cid, unsigned int port, char *buf)
{
	struct sockaddr_vm addr = {.svm_family = AF_VSOCK};
	int fd, err;

	addr.svm_cid = cid;
	addr.svm_port = port;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		err = -errno;
	else
		err = ve_pump(fd, buf);
	close(fd);
	return err;
}

static int ve_usage(void)
{
	fprintf(stderr, "usage: vsock-echo listen PORT\n"
			"       vsock-echo connect CID PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	static char buf[VE_BUF_SIZE];
	unsigned int cid, port;
	int err;

	if (argc == 3 && strcmp(argv[1], "listen") == 0) {
		if (ve_parse_u32(argv[2], &port))
			return ve_usage();
		err = ve_listen(port, buf);
	} else if (argc == 4 && strcmp(argv[1], "connect") == 0) {
		if (ve_parse_u32(argv[2], &cid) || ve_parse_u32(argv[3], &port))
			return ve_usage();
		err = ve_connect(cid, port, buf);
	} else {
		return ve_usage();
	}
	if (err) {
		fprintf(stderr, "vsock-echo: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
