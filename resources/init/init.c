/* flint guest init: PID 1 of the guest kit's rootfs and initramfs.
 *
 * Sequence: mount /proc, /sys, /dev (devtmpfs), /tmp; signal the boot timer;
 * run the command given after " -- " on the kernel command line through
 * `/bin/sh -c` (or an interactive /bin/sh on the console if there is none);
 * reap children until it ends; print its exit status; power the VM off with
 * reboot(RB_AUTOBOOT) (with reboot=k the kernel resets through the i8042,
 * which ends flint like it ends Firecracker).
 *
 * The command is taken verbatim from /proc/cmdline (quotes and spacing kept),
 * not from argv, because the kernel splits and unquotes init's arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/layout.h"

#define INIT_CMDLINE_MAX 4096

static void init_log(const char *msg, int err)
{
	if (err)
		dprintf(2, "flint-init: %s: %s\n", msg, strerror(err));
	else
		dprintf(2, "flint-init: %s\n", msg);
}

static void init_mount(const char *src, const char *dir, const char *type, unsigned long flags)
{
	mkdir(dir, 0755);
	/* EBUSY: already mounted, e.g. /dev by CONFIG_DEVTMPFS_MOUNT on a disk root. */
	if (mount(src, dir, type, flags, NULL) < 0 && errno != EBUSY)
		init_log(dir, errno);
}

/* The kernel opens /dev/console for init only if it exists; an initramfs
 * without the node leaves fds 0-2 closed. Reopen once devtmpfs is up. */
static void init_open_console(void)
{
	int fd;

	if (fcntl(2, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Firecracker's boot timer: the VMM logs the boot time when the guest
 * writes the magic byte to this MMIO page. Harmless where nothing is mapped
 * there (the write just exits to the VMM, or is dropped). */
static void init_signal_boot_timer(void)
{
	volatile uint8_t *page;
	int fd;

	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0) {
		init_log("boot timer: /dev/mem", errno);
		return;
	}
	page = mmap(NULL, LAYOUT_BOOT_TIMER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)LAYOUT_BOOT_TIMER_ADDR);
	if (page == MAP_FAILED) {
		init_log("boot timer: mmap", errno);
	} else {
		*page = LAYOUT_BOOT_TIMER_MAGIC;
		munmap((void *)page, LAYOUT_BOOT_TIMER_SIZE);
	}
	close(fd);
}

/* Returns the text after the first " -- " (or a leading "-- ") of the
 * command line in buf, without the trailing newline; NULL if none or empty. */
static char *init_read_command(char *buf, size_t size)
{
	ssize_t n;
	char *cmd;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, "-- ", 3) == 0)
		cmd = buf + 3;
	else if ((cmd = strstr(buf, " -- ")) != NULL)
		cmd += 4;
	else
		return NULL;
	cmd += strspn(cmd, " ");
	return *cmd ? cmd : NULL;
}

/* Child side: an interactive shell gets its own session with the serial
 * port as controlling tty, so that job control and ^C work. */
static void init_exec_shell(const char *cmd)
{
	setsid();
	if (cmd) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	} else {
		int fd = open("/dev/ttyS0", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
			ioctl(0, TIOCSCTTY, 1);
		}
		execl("/bin/sh", "-sh", (char *)NULL);
	}
	init_log("exec /bin/sh", errno);
	_exit(127);
}

/* As PID 1 we inherit every orphan: reap them all until our child ends. */
static int init_wait(pid_t child)
{
	int status;
	pid_t pid;

	for (;;) {
		pid = wait(&status);
		if (pid == child)
			return status;
		if (pid < 0 && errno != EINTR)
			return -1;
	}
}

static void init_report(const char *cmd, int status)
{
	if (status < 0)
		init_log("lost the command's child", 0);
	else if (WIFEXITED(status))
		dprintf(2, "flint-init: %s exited with status %d\n", cmd ? "command" : "shell",
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		dprintf(2, "flint-init: %s killed by signal %d\n", cmd ? "command" : "shell",
			WTERMSIG(status));
}

int main(void)
{
	char buf[INIT_CMDLINE_MAX];
	const char *cmd;
	pid_t child;

	init_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	init_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	init_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
	init_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV);
	init_open_console();
	init_signal_boot_timer();

	setenv("PATH", "/sbin:/usr/sbin:/bin:/usr/bin", 1);
	setenv("HOME", "/", 1);
	setenv("TERM", "linux", 0);
	cmd = init_read_command(buf, sizeof(buf));

	child = fork();
	if (child == 0)
		init_exec_shell(cmd);
	if (child < 0)
		init_log("fork", errno);
	else
		init_report(cmd, init_wait(child));

	kill(-1, SIGKILL);
	sync();
	reboot(RB_AUTOBOOT);
	init_log("reboot", errno);
	for (;;)
		pause();
}
