/* Polled 16550 output and a small printf: %s %c %d %u %x %p with l/ll/z
 * length modifiers, '0' flag, a field width and %.*s. */
#include <stdarg.h>
#include "arch.h"
#include "con.h"
#include "lib.h"

#define UART_THR      0
#define UART_IER      1
#define UART_FCR      2
#define UART_LCR      3
#define UART_MCR      4
#define UART_LSR      5
#define UART_LSR_THRE 0x20
#define CON_LINE_MAX  512

/* The one lock all CPUs share: a global by necessity (APs find it without
 * any argument). */
static volatile uint32_t con_lock_word;

/* The arguments travel in a struct: passing a va_list by pointer is not
 * portable where va_list is an array type (x86_64). */
struct con_args {
	va_list ap;
};

struct con_buf {
	char *s;
	size_t n, cap;
};

static void con_lock(void)
{
	while (__atomic_exchange_n(&con_lock_word, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void con_unlock(void)
{
	__atomic_store_n(&con_lock_word, 0, __ATOMIC_RELEASE);
}

static void con_putc_raw(char c)
{
	/* Bounded wait: a UART that never reports THRE must not hang us. */
	for (int i = 0; i < 100000 && !(inb(CON_PORT + UART_LSR) & UART_LSR_THRE); i++)
		cpu_relax();
	outb(CON_PORT + UART_THR, (uint8_t)c);
}

void con_init(void)
{
	outb(CON_PORT + UART_IER, 0);
	outb(CON_PORT + UART_LCR, 0x03); /* 8N1, DLAB off */
	outb(CON_PORT + UART_FCR, 0x07); /* FIFO on and cleared */
	outb(CON_PORT + UART_MCR, 0x03); /* DTR, RTS */
}

static void buf_putc(struct con_buf *b, char c)
{
	if (b->n < b->cap)
		b->s[b->n++] = c;
}

static void buf_num(struct con_buf *b, uint64_t v, unsigned base, int width, char pad, bool neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		width--;
	if (neg && pad == '0')
		buf_putc(b, '-');
	for (; width > n; width--)
		buf_putc(b, pad);
	if (neg && pad != '0')
		buf_putc(b, '-');
	while (n)
		buf_putc(b, tmp[--n]);
}

static uint64_t arg_unsigned(struct con_args *a, int lng)
{
	if (lng >= 2)
		return va_arg(a->ap, unsigned long long);
	if (lng == 1)
		return va_arg(a->ap, unsigned long);
	return va_arg(a->ap, unsigned int);
}

static int64_t arg_signed(struct con_args *a, int lng)
{
	if (lng >= 2)
		return va_arg(a->ap, long long);
	if (lng == 1)
		return va_arg(a->ap, long);
	return va_arg(a->ap, int);
}

static const char *buf_conv(struct con_buf *b, const char *f, struct con_args *a)
{
	char pad = ' ';
	int width = 0, lng = 0, prec = -1;
	int64_t sv;

	if (*f == '0')
		pad = *f++;
	while (*f >= '0' && *f <= '9')
		width = width * 10 + (*f++ - '0');
	if (f[0] == '.' && f[1] == '*') {
		prec = va_arg(a->ap, int);
		f += 2;
	}
	for (; *f == 'l' || *f == 'z'; f++)
		lng++;
	switch (*f) {
	case 's': {
		const char *s = va_arg(a->ap, const char *);

		for (s = s ? s : "(null)"; *s && prec-- != 0; s++)
			buf_putc(b, *s);
		break;
	}
	case 'c':
		buf_putc(b, (char)va_arg(a->ap, int));
		break;
	case 'd':
		sv = arg_signed(a, lng);
		buf_num(b, sv < 0 ? -(uint64_t)sv : (uint64_t)sv, 10, width, pad, sv < 0);
		break;
	case 'u':
		buf_num(b, arg_unsigned(a, lng), 10, width, pad, false);
		break;
	case 'x':
		buf_num(b, arg_unsigned(a, lng), 16, width, pad, false);
		break;
	case 'p':
		buf_putc(b, '0');
		buf_putc(b, 'x');
		buf_num(b, (uintptr_t)va_arg(a->ap, void *), 16, width, pad, false);
		break;
	case '\0':
		return f;
	default:
		buf_putc(b, *f);
	}
	return f + 1;
}

static size_t con_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
	struct con_buf b = {.s = dst, .n = 0, .cap = cap};
	struct con_args a;

	va_copy(a.ap, ap);
	while (*fmt) {
		if (*fmt != '%') {
			buf_putc(&b, *fmt++);
		} else if (fmt[1] == '%') {
			buf_putc(&b, '%');
			fmt += 2;
		} else {
			fmt = buf_conv(&b, fmt + 1, &a);
		}
	}
	va_end(a.ap);
	return b.n;
}

size_t con_vsnprintf(char *dst, size_t cap, const char *fmt, va_list ap)
{
	size_t n;

	if (!cap)
		return 0;
	n = con_vformat(dst, cap - 1, fmt, ap);
	dst[n] = '\0';
	return n;
}

size_t con_snprintf(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = con_vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	return n;
}

void con_printf(const char *fmt, ...)
{
	char line[CON_LINE_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = con_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	con_lock();
	for (size_t i = 0; i < n; i++)
		con_putc_raw(line[i]);
	con_unlock();
}
