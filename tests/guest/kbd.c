/* The kbd test: wait for Ctrl-Alt-Del on the i8042 keyboard (what the VMM's
 * SendCtrlAltDel action injects), as a PC's firmware or OS would, then let
 * the guest end normally. Polls the controller: no interrupts needed. */
#include "arch.h"
#include "con.h"
#include "guest.h"
#include "lib.h"

#define I8042_DATA_PORT	  0x60
#define I8042_STATUS_PORT 0x64
#define I8042_STATUS_OBF  0x01
#define KBD_WAIT_MS	  20000ULL

/* Scan code set 1 make codes, as the controller delivers them translated. */
#define SC_CTRL	  0x1d
#define SC_ALT	  0x38
#define SC_E0	  0xe0
#define SC_DELETE 0x53

struct kbd_seen {
	int ctrl, alt, e0;
};

/* Feed one byte; 1 once Ctrl and Alt are down and Delete (E0 53) arrives. */
static int kbd_feed(struct kbd_seen *s, uint8_t b)
{
	if (b == SC_E0) {
		s->e0 = 1;
		return 0;
	}
	if (b == SC_CTRL)
		s->ctrl = 1;
	else if (b == (SC_CTRL | 0x80))
		s->ctrl = 0;
	else if (b == SC_ALT)
		s->alt = 1;
	else if (b == (SC_ALT | 0x80))
		s->alt = 0;
	else if (b == SC_DELETE && s->e0 && s->ctrl && s->alt)
		return 1;
	s->e0 = 0;
	return 0;
}

int test_kbd(struct test_ctx *t)
{
	struct kbd_seen seen = {0, 0, 0};
	uint64_t deadline = rdtsc() + KBD_WAIT_MS * GUEST_TSC_MS;

	con_printf("kbd: waiting for ctrl-alt-del\n");
	while (rdtsc() < deadline) {
		uint8_t b;

		if (!(inb(I8042_STATUS_PORT) & I8042_STATUS_OBF)) {
			lib_delay_tsc(GUEST_TSC_MS);
			continue;
		}
		b = inb(I8042_DATA_PORT);
		con_printf("kbd: scancode 0x%x\n", b);
		if (kbd_feed(&seen, b)) {
			con_printf("kbd: ctrl-alt-del\n");
			return 0;
		}
	}
	return test_fail(t, "no ctrl-alt-del within %llu ms", (unsigned long long)KBD_WAIT_MS);
}
