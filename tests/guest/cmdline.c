/* Command-line parsing: space-separated key=value words; unknown words
 * (console=ttyS0 and the like from a VMM's default line) are ignored. */
#include <stddef.h>
#include "con.h"
#include "guest.h"
#include "lib.h"

struct word {
	const char *key, *val;
	size_t klen, vlen;
};

static void cmdline_tests(struct guest_opts *o, const char *v, size_t n)
{
	size_t i = 0;

	o->ntests = 0;
	while (i < n && o->ntests < GUEST_TESTS_MAX) {
		size_t s = i;

		while (i < n && v[i] != ',')
			i++;
		if (i > s) {
			o->tests[o->ntests] = v + s;
			o->test_len[o->ntests++] = i - s;
		}
		i++;
	}
}

static int cmdline_reset(struct guest_opts *o, const char *v, size_t n)
{
	if (lib_word_eq(v, n, "i8042"))
		o->reset = RESET_I8042;
	else if (lib_word_eq(v, n, "triple"))
		o->reset = RESET_TRIPLE;
	else if (lib_word_eq(v, n, "debugexit"))
		o->reset = RESET_DEBUGEXIT;
	else if (lib_word_eq(v, n, "none"))
		o->reset = RESET_NONE;
	else
		return -1;
	return 0;
}

/* <size>@<base>:<irq>[:<id>], sizes with an optional K/M/G suffix. */
static int cmdline_virtio(struct guest_opts *o, const char *v, size_t n)
{
	struct guest_mmio_dev d;
	uint64_t irq;
	size_t i, k;

	if (o->nvirtio >= GUEST_VIRTIO_MAX)
		return -1;
	i = lib_parse_u64(v, n, &d.size);
	if (!i || i >= n || v[i] != '@')
		return -1;
	i++;
	k = lib_parse_u64(v + i, n - i, &d.base);
	if (!k || i + k >= n || v[i + k] != ':')
		return -1;
	i += k + 1;
	k = lib_parse_u64(v + i, n - i, &irq);
	if (!k || irq > 0xffffffffu || (i + k < n && v[i + k] != ':'))
		return -1;
	if (d.size < 0x100 || d.base < 0xc0000000ULL || d.base + d.size > 0x100000000ULL)
		return -1; /* we only map the 3-4 GiB hole uncached */
	d.irq = (uint32_t)irq;
	o->virtio[o->nvirtio++] = d;
	return 0;
}

static int cmdline_u32(const char *v, size_t n, uint32_t *out)
{
	uint64_t x;

	if (lib_parse_u64(v, n, &x) != n || x > 0xffffffffu)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* Numeric options, by name. */
struct u32_opt {
	const char *key;
	size_t off; /* offsetof(struct guest_opts, field) */
};

static const struct u32_opt u32_opts[] = {
    {"ncpus", offsetof(struct guest_opts, ncpus)},
    {"blk_dev", offsetof(struct guest_opts, blk_dev)},
    {"net_tx", offsetof(struct guest_opts, net_tx)},
    {"net_rx", offsetof(struct guest_opts, net_rx)},
    {"net_wait_ms", offsetof(struct guest_opts, net_wait_ms)},
    {"vsock_port", offsetof(struct guest_opts, vsock_port)},
    {"vsock_listen", offsetof(struct guest_opts, vsock_listen)},
    {"vsock_wait_ms", offsetof(struct guest_opts, vsock_wait_ms)},
};

static int cmdline_word(struct guest_opts *o, const struct word *w)
{
	const char *v = w->val;
	size_t n = w->vlen;

	for (size_t i = 0; i < sizeof(u32_opts) / sizeof(u32_opts[0]); i++) {
		if (lib_word_eq(w->key, w->klen, u32_opts[i].key))
			return cmdline_u32(v, n, (uint32_t *)((char *)o + u32_opts[i].off));
	}
	if (lib_word_eq(w->key, w->klen, "tests")) {
		cmdline_tests(o, v, n);
	} else if (lib_word_eq(w->key, w->klen, "reset")) {
		return cmdline_reset(o, v, n);
	} else if (lib_word_eq(w->key, w->klen, "virtio_mmio.device")) {
		return cmdline_virtio(o, v, n);
	} else if (lib_word_eq(w->key, w->klen, "blk_ro")) {
		o->blk_ro = lib_word_eq(v, n, "1");
	} else if (lib_word_eq(w->key, w->klen, "blk_pattern")) {
		o->blk_pattern = !lib_word_eq(v, n, "0");
	} else if (lib_word_eq(w->key, w->klen, "hostile")) {
		o->hostile = v;
		o->hostile_len = n;
	}
	return 0;
}

static void cmdline_defaults(struct guest_opts *o)
{
	static const char def[] = "timer,mem,smp";

	cmdline_tests(o, def, sizeof(def) - 1);
	o->reset = RESET_I8042;
	o->blk_pattern = true;
	o->net_tx = 4;
	o->net_wait_ms = 2000;
	o->vsock_wait_ms = 5000;
}

void cmdline_parse(struct guest *g)
{
	struct guest_opts *o = &g->opts;
	const char *s = g->cmdline;
	size_t i = 0, n = strlen(s);

	cmdline_defaults(o);
	while (i < n) {
		struct word w = {.key = s + i};

		while (i < n && s[i] == ' ')
			w.key = s + ++i;
		while (i < n && s[i] != ' ' && s[i] != '=')
			i++;
		w.klen = (size_t)(s + i - w.key);
		w.val = s + i + (i < n && s[i] == '=');
		i += (i < n && s[i] == '=');
		while (i < n && s[i] != ' ')
			i++;
		w.vlen = (size_t)(s + i - w.val);
		if (w.klen && cmdline_word(o, &w) < 0)
			con_printf("guest: cmdline: bad value in '%.*s'\n", (int)(s + i - w.key),
				   w.key);
	}
}
