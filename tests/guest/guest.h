/* The test guest's shared state and the interfaces between its parts.
 * Everything runs on the boot CPU unless a prototype says otherwise. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define GUEST_CMDLINE_MAX 2048
#define GUEST_MEMMAP_MAX  128
#define GUEST_VIRTIO_MAX  16
#define GUEST_TESTS_MAX	  16
#define GUEST_WHY_MAX	  160
#define GUEST_E820_RAM	  1

enum guest_reset {
	RESET_I8042,	 /* 0xFE to port 0x64, then a triple fault if still alive */
	RESET_TRIPLE,	 /* empty IDT + fault */
	RESET_DEBUGEXIT, /* QEMU isa-debug-exit at port 0xf4, then as i8042 */
	RESET_NONE,	 /* halt forever */
};

struct guest_mmio_dev {
	uint64_t base, size;
	uint32_t irq;
};

struct guest_region {
	uint64_t addr, size;
	uint32_t type;
};

/* Parsed command line. Strings point into guest.cmdline. */
struct guest_opts {
	const char *tests[GUEST_TESTS_MAX];
	size_t test_len[GUEST_TESTS_MAX];
	unsigned ntests;
	enum guest_reset reset;
	uint32_t ncpus;	  /* 0: not given */
	bool blk_ro;	  /* expect a read-only disk */
	bool blk_pattern; /* check the host-written sector pattern */
	uint32_t blk_dev; /* which virtio-blk (0 = first) */
	uint32_t net_tx;  /* frames to send */
	uint32_t net_rx;  /* frames that must arrive */
	uint32_t net_wait_ms;
	uint32_t vsock_port;   /* host port to connect to (0: skip) */
	uint32_t vsock_listen; /* guest port to accept on (0: skip) */
	uint32_t vsock_wait_ms;
	const char *hostile; /* comma list of hostile cases, NULL: all */
	size_t hostile_len;
	struct guest_mmio_dev virtio[GUEST_VIRTIO_MAX];
	unsigned nvirtio;
};

struct guest {
	char cmdline[GUEST_CMDLINE_MAX];
	struct guest_opts opts;
	struct guest_region regions[GUEST_MEMMAP_MAX];
	unsigned nregions;
	uint64_t mapped_end; /* identity map covers [0, mapped_end) */
	unsigned pass, fail;
};

/* A test's outcome: 0 = pass, else the reason is in why. */
struct test_ctx {
	struct guest *g;
	char why[GUEST_WHY_MAX];
};

/* Record a failure reason (printf-style) and return -1. */
int test_fail(struct test_ctx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* main.c */
void guest_main(uint32_t start_info_pa);
void guest_stop(enum guest_reset how) __attribute__((noreturn));

/* boot.c: start_info, page tables, IDT. */
int boot_read_start_info(struct guest *g, uint32_t pa);
void boot_map_high(struct guest *g);
void boot_setup_idt(void);
void boot_load_idt(void); /* any CPU, after boot_setup_idt() */
/* Called from entry.S with the exception frame; any CPU. */
void trap_report(const uint64_t *frame) __attribute__((noreturn));

/* cmdline.c */
void cmdline_parse(struct guest *g);

/* Tests. */
int test_timer(struct test_ctx *t);
int test_mem(struct test_ctx *t);
int test_fault(struct test_ctx *t);
int test_smp(struct test_ctx *t);
int test_blk(struct test_ctx *t);
int test_rng(struct test_ctx *t);
int test_net(struct test_ctx *t);
int test_vsock(struct test_ctx *t);
int test_hostile(struct test_ctx *t);
int test_counter(struct test_ctx *t); /* counter.c: never returns */
int test_kbd(struct test_ctx *t);     /* kbd.c: waits for Ctrl-Alt-Del */
/* Called from entry.S on each started AP, on its own stack. */
void smp_ap_main(uint32_t apic_id) __attribute__((noreturn));

#endif
