/* struct fault: the reason a request or configuration was refused. */
#include <stdarg.h>
#include <stdio.h>

#include "vmm/config.h"

void fault_set(struct fault *f, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}
