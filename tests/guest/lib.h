/* The few libc pieces the guest needs (gcc may also call mem* itself). */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* Compare s[0..n) with the NUL-terminated word w: true if equal. */
bool lib_word_eq(const char *s, size_t n, const char *w);
/* Parse an unsigned number: decimal or 0x hex, then an optional K/M/G
 * suffix (as Linux's memparse). Returns chars used, 0 on error. */
size_t lib_parse_u64(const char *s, size_t n, uint64_t *out);
/* The number in the word key=<number> of the space-separated command line
 * cmd (lib_parse_u64's syntax), or def if there is none or it is malformed.
 * For test options the shared parser (cmdline.c) does not know. */
uint64_t lib_cmdline_u64(const char *cmd, const char *key, uint64_t def);

/* Spin until *ticks of the TSC pass; the guest has no calibrated timer, so
 * callers pass generous values (GUEST_TSC_MS assumes a >= 1 GHz TSC). */
#define GUEST_TSC_MS 1000000ULL
void lib_delay_tsc(uint64_t ticks);

#endif
