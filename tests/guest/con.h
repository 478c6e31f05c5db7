/* Serial console output (16550 COM1, polled). Every con_printf() call is
 * written as a whole under a spinlock, so lines from several CPUs never
 * interleave. Callable from any CPU. */
#ifndef GUEST_CON_H
#define GUEST_CON_H

#include <stdarg.h>
#include <stddef.h>

#define CON_PORT 0x3f8

void con_init(void);
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Format into dst (always NUL-terminated when cap > 0); returns length. */
size_t con_snprintf(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t con_vsnprintf(char *dst, size_t cap, const char *fmt, va_list ap);

#endif
