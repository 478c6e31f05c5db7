/* Minimal libc replacements for the freestanding guest. */
#include "lib.h"
#include "arch.h"

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	}
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

bool lib_word_eq(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int lib_digit(char c, unsigned base)
{
	unsigned v;

	if (c >= '0' && c <= '9')
		v = (unsigned)(c - '0');
	else if (c >= 'a' && c <= 'f')
		v = (unsigned)(c - 'a' + 10);
	else if (c >= 'A' && c <= 'F')
		v = (unsigned)(c - 'A' + 10);
	else
		return -1;
	return v < base ? (int)v : -1;
}

size_t lib_parse_u64(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10, shift = 0;
	size_t i = 0, start;
	uint64_t v = 0;
	int d;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	start = i;
	for (; i < n && (d = lib_digit(s[i], base)) >= 0; i++) {
		if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
			return 0;
	}
	if (i == start)
		return 0;
	if (i < n && (s[i] == 'K' || s[i] == 'k'))
		shift = 10;
	else if (i < n && (s[i] == 'M' || s[i] == 'm'))
		shift = 20;
	else if (i < n && (s[i] == 'G' || s[i] == 'g'))
		shift = 30;
	if (shift) {
		if (v >> (64 - shift))
			return 0;
		v <<= shift;
		i++;
	}
	*out = v;
	return i;
}

uint64_t lib_cmdline_u64(const char *cmd, const char *key, uint64_t def)
{
	size_t kl = strlen(key), n = strlen(cmd);

	for (size_t i = 0; i < n;) {
		size_t s = i, e;
		uint64_t v;

		while (i < n && cmd[i] != ' ')
			i++;
		e = i++;
		if (e - s > kl && cmd[s + kl] == '=' && lib_word_eq(cmd + s, kl, key) &&
		    lib_parse_u64(cmd + s + kl + 1, e - s - kl - 1, &v) == e - s - kl - 1)
			return v;
	}
	return def;
}

void lib_delay_tsc(uint64_t ticks)
{
	uint64_t start = rdtsc();

	while (rdtsc() - start < ticks)
		cpu_relax();
}
