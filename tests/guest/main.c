/* Test guest main: read the boot information, run the tests named on the
 * command line, print one result line per test and a summary, then end the
 * VM the way the command line asks. */
#include <stdarg.h>
#include "arch.h"
#include "con.h"
#include "guest.h"
#include "lib.h"

#define I8042_CMD_PORT	0x64
#define I8042_CMD_RESET 0xfe
#define DEBUG_EXIT_PORT 0xf4

struct test_entry {
	const char *name;
	int (*run)(struct test_ctx *t);
};

static const struct test_entry test_table[] = {
    {"timer", test_timer},     {"mem", test_mem},	  {"smp", test_smp},
    {"blk", test_blk},	       {"rng", test_rng},	  {"net", test_net},
    {"vsock", test_vsock},     {"hostile", test_hostile}, {"fault", test_fault},
    {"counter", test_counter}, {"kbd", test_kbd},
};

/* The state lives in .bss rather than on the 16 KiB boot stack. */
static struct guest guest_state;

int test_fail(struct test_ctx *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	con_vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	return -1;
}

void guest_stop(enum guest_reset how)
{
	switch (how) {
	case RESET_NONE:
		con_printf("guest: halting\n");
		cpu_halt_forever();
		break;
	case RESET_TRIPLE:
		con_printf("guest: triple fault\n");
		triple_fault();
		break;
	case RESET_DEBUGEXIT:
		con_printf("guest: isa-debug-exit\n");
		outl(DEBUG_EXIT_PORT, 0);
		/* fall through */
	case RESET_I8042:
	default:
		con_printf("guest: reset via i8042\n");
		outb(I8042_CMD_PORT, I8042_CMD_RESET);
		/* No i8042 (QEMU microvm): fall back to a triple fault, which
		 * with -no-reboot ends QEMU too. */
		lib_delay_tsc(100 * GUEST_TSC_MS);
		con_printf("guest: i8042 reset ignored, triple fault\n");
		triple_fault();
	}
	cpu_halt_forever();
}

static const struct test_entry *test_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(test_table) / sizeof(test_table[0]); i++) {
		if (lib_word_eq(name, len, test_table[i].name))
			return &test_table[i];
	}
	return NULL;
}

static void test_run_one(struct guest *g, const char *name, size_t len)
{
	const struct test_entry *e = test_find(name, len);
	struct test_ctx t = {.g = g};
	char nm[32];

	if (len >= sizeof(nm))
		len = sizeof(nm) - 1;
	memcpy(nm, name, len);
	nm[len] = '\0';
	if (!e) {
		con_printf("TEST %s FAIL unknown test\n", nm);
		g->fail++;
		return;
	}
	if (e->run(&t) == 0) {
		con_printf("TEST %s PASS\n", nm);
		g->pass++;
	} else {
		con_printf("TEST %s FAIL %s\n", nm, t.why[0] ? t.why : "no reason given");
		g->fail++;
	}
}

static void guest_print_memmap(const struct guest *g)
{
	char line[1536];
	size_t n = 0;
	uint64_t total = 0;

	for (unsigned i = 0; i < g->nregions; i++) {
		const struct guest_region *r = &g->regions[i];

		if (r->type == GUEST_E820_RAM)
			total += r->size;
		n +=
		    con_snprintf(line + n, sizeof(line) - n, "%s0x%llx+0x%llx:%u", i ? "," : "",
				 (unsigned long long)r->addr, (unsigned long long)r->size, r->type);
	}
	line[n] = '\0';
	con_printf("guest: mem: total=%llu regions=%s\n", (unsigned long long)total, line);
}

void guest_main(uint32_t start_info_pa)
{
	struct guest *g = &guest_state;

	con_init();
	con_printf("\nguest: flint test guest, start_info=0x%x\n", start_info_pa);
	boot_setup_idt();
	if (boot_read_start_info(g, start_info_pa) < 0) {
		con_printf("ALL DONE pass=0 fail=1\n");
		guest_stop(RESET_I8042);
	}
	con_printf("guest: cmdline: %s\n", g->cmdline);
	cmdline_parse(g);
	boot_map_high(g);
	guest_print_memmap(g);
	for (unsigned i = 0; i < g->opts.ntests; i++)
		test_run_one(g, g->opts.tests[i], g->opts.test_len[i]);
	con_printf("ALL DONE pass=%u fail=%u\n", g->pass, g->fail);
	guest_stop(g->opts.reset);
}
