/* Kernel command line builder. */
#include "boot/cmdline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void cmdline_init(struct cmdline *c, size_t limit)
{
	if (limit == 0 || limit > sizeof(c->buf))
		limit = sizeof(c->buf);
	c->buf[0] = '\0';
	c->len = 0;
	c->limit = limit;
}

static bool cmdline_printable(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

/* Where init's arguments start: the offset of a " -- " separator (or of a
 * leading "-- "), or len if there is none. The kernel hands everything after
 * it to init, so what flint adds must go before it. */
static size_t cmdline_init_args_at(const struct cmdline *c)
{
	const char *sep;

	if (strncmp(c->buf, "-- ", 3) == 0 || strcmp(c->buf, "--") == 0)
		return 0;
	sep = strstr(c->buf, " -- ");
	if (!sep && c->len >= 3 && strcmp(c->buf + c->len - 3, " --") == 0)
		return c->len - 3;
	return sep ? (size_t)(sep - c->buf) : c->len;
}

int cmdline_append(struct cmdline *c, const char *s)
{
	size_t n = strlen(s), at, tail;

	if (n == 0)
		return 0;
	if (!cmdline_printable(s))
		return -EINVAL;
	/* len + one space + n + NUL must fit in limit. */
	if (n >= c->limit || c->len + (c->len ? 1 : 0) + n + 1 > c->limit)
		return -E2BIG;
	at = cmdline_init_args_at(c);
	tail = c->len - at;
	if (at == c->len) { /* no init arguments: plain append */
		if (c->len)
			c->buf[c->len++] = ' ';
		memcpy(c->buf + c->len, s, n + 1);
		c->len += n;
		return 0;
	}
	/* "<head><tail>" becomes "<head> s<tail>", or "s <tail>" at offset 0. */
	memmove(c->buf + at + n + 1, c->buf + at, tail + 1);
	if (at == 0) {
		memcpy(c->buf, s, n);
		c->buf[n] = ' ';
	} else {
		c->buf[at] = ' ';
		memcpy(c->buf + at + 1, s, n);
	}
	c->len += n + 1;
	return 0;
}

int cmdline_add_virtio_mmio(struct cmdline *c, uint64_t size, uint64_t base, uint32_t irq)
{
	char part[80];

	if (size == 0 || size % 1024)
		return -EINVAL;
	snprintf(part, sizeof(part), "virtio_mmio.device=%" PRIu64 "K@0x%08" PRIx64 ":%" PRIu32,
		 size / 1024, base, irq);
	return cmdline_append(c, part);
}

/* Length of the word starting at s: up to a space outside double quotes. */
static size_t cmdline_word_len(const char *s)
{
	bool quoted = false;
	size_t i;

	for (i = 0; s[i] && (quoted || s[i] != ' '); i++) {
		if (s[i] == '"')
			quoted = !quoted;
	}
	return i;
}

bool cmdline_has(const struct cmdline *c, const char *key)
{
	size_t klen = strlen(key);
	const char *p = c->buf;

	if (klen == 0)
		return false;
	while (*p) {
		size_t w;

		while (*p == ' ')
			p++;
		w = cmdline_word_len(p);
		if (w >= klen && strncmp(p, key, klen) == 0 && (w == klen || p[klen] == '='))
			return true;
		p += w;
	}
	return false;
}

int cmdline_write(const struct guest_mem *mem, const struct cmdline *c, uint64_t gpa,
		  struct fault *f)
{
	if (gm_write(mem, gpa, c->buf, c->len + 1)) {
		fault_set(f, "command line does not fit in guest memory at 0x%" PRIx64, gpa);
		return -EFAULT;
	}
	return 0;
}
