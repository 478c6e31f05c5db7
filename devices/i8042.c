/* i8042 (PS/2 controller) emulation with a keyboard that acknowledges
 * commands. Command and status values from the IBM PC/AT technical
 * reference and Linux's drivers/input/serio/i8042.h. */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#define PORT_DATA   0 /* 0x60 */
#define PORT_STATUS 4 /* 0x64 */

#define STATUS_OBF    0x01 /* output buffer full */
#define STATUS_SYS    0x04 /* self test passed */
#define STATUS_CMD    0x08 /* last write was a command */
#define STATUS_UNLOCK 0x10 /* keyboard not inhibited */
#define STATUS_AUX    0x20 /* the byte to read came from the AUX side */

#define CTR_KBD_INT 0x01
#define CTR_SYS	    0x04
#define CTR_KBD_DIS 0x10
#define CTR_AUX_DIS 0x20
#define CTR_XLATE   0x40

#define CMD_READ_CTR  0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DIS   0xa7
#define CMD_AUX_EN    0xa8
#define CMD_AUX_TEST  0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST  0xab
#define CMD_KBD_DIS   0xad
#define CMD_KBD_EN    0xae
#define CMD_WRITE_OUT 0xd1
#define CMD_AUX_LOOP  0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_RESET     0xfe

#define KBD_ACK	      0xfa
#define KBD_CMD_RESET 0xff
#define KBD_CMD_GETID 0xf2
#define KBD_CMD_ECHO  0xee

void i8042_init(struct i8042 *k)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctr = CTR_KBD_INT | CTR_SYS | CTR_XLATE | CTR_AUX_DIS;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static int i8042_push(struct i8042 *k, uint8_t b)
{
	if (k->len == I8042_BUF_SIZE)
		return -ENOSPC;
	k->buf[(k->head + k->len) % I8042_BUF_SIZE] = b;
	k->len++;
	return 0;
}

/* A byte that reads with the AUX status bit set. */
static void i8042_push_aux(struct i8042 *k, uint8_t b)
{
	unsigned at = k->len;

	if (i8042_push(k, b) == 0)
		k->aux_mask |= (uint16_t)(1u << at);
}

static uint8_t i8042_pop(struct i8042 *k)
{
	uint8_t b;

	if (!k->len) {
		k->missed_reads++;
		return 0;
	}
	b = k->buf[k->head];
	k->head = (k->head + 1) % I8042_BUF_SIZE;
	k->len--;
	k->aux_mask >>= 1;
	return b;
}

static void i8042_kbd_irq(struct i8042 *k)
{
	if ((k->ctr & CTR_KBD_INT) && k->raise_irq)
		k->raise_irq(k->irq_ctx);
}

/* A byte sent to the keyboard itself: acknowledge like a real one. */
static void i8042_kbd_command(struct i8042 *k, uint8_t v)
{
	if (v == KBD_CMD_ECHO) {
		i8042_push(k, KBD_CMD_ECHO);
	} else {
		i8042_push(k, KBD_ACK);
		if (v == KBD_CMD_RESET)
			i8042_push(k, 0xaa); /* basic assurance test passed */
		if (v == KBD_CMD_GETID) {
			i8042_push(k, 0xab); /* MF2 keyboard */
			i8042_push(k, 0x83);
		}
	}
	i8042_kbd_irq(k);
}

static void i8042_data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case CMD_WRITE_OUT:
	case CMD_WRITE_AUX: /* no mouse: the byte goes nowhere */
		break;
	case CMD_AUX_LOOP:
		/* There is no AUX (mouse) port, and Linux should find that out
		 * at once: its probe sends this loopback first and, when the
		 * byte does not come back as sent, asks CMD_AUX_TEST, whose
		 * answer below ends the probe. A byte that never came back
		 * would cost it a 0.5 s poll (10000 x 50 us, real time on any
		 * host), a loopback that worked a 250 ms wait for IRQ 12. */
		i8042_push_aux(k, (uint8_t)~v);
		break;
	default:
		i8042_kbd_command(k, v);
		break;
	}
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		i8042_push(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUT:
	case CMD_WRITE_AUX:
	case CMD_AUX_LOOP:
		k->pending_cmd = cmd;
		break;
	case CMD_AUX_DIS:
		k->ctr |= CTR_AUX_DIS;
		break;
	case CMD_AUX_EN:
		k->ctr &= (uint8_t)~CTR_AUX_DIS;
		break;
	case CMD_AUX_TEST:
		i8042_push(k, 0x01); /* "AUX clock line stuck low": no port */
		break;
	case CMD_SELF_TEST:
		i8042_push(k, 0x55);
		break;
	case CMD_KBD_TEST:
		i8042_push(k, 0x00);
		break;
	case CMD_KBD_DIS:
		k->ctr |= CTR_KBD_DIS;
		break;
	case CMD_KBD_EN:
		k->ctr &= (uint8_t)~CTR_KBD_DIS;
		break;
	case CMD_RESET:
		k->reset_count++;
		if (k->reset)
			k->reset(k->reset_ctx);
		break;
	default: /* unknown commands are ignored, as on most controllers */
		break;
	}
}

void i8042_pio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == PORT_DATA) {
		data[0] = i8042_pop(k);
		/* One interrupt per byte, as a real controller does: Linux's
		 * handler reads a single byte per interrupt, so the rest of a
		 * reply (GETID's ID bytes) or of Ctrl-Alt-Del's scancodes would
		 * otherwise wait for the next keystroke. */
		if (k->len)
			i8042_kbd_irq(k);
	} else if (off == PORT_STATUS)
		data[0] = (k->len ? STATUS_OBF : 0) | (k->aux_mask & 1 ? STATUS_AUX : 0) |
			  STATUS_SYS | STATUS_UNLOCK | k->last_write_cmd;
	pthread_mutex_unlock(&k->lock);
}

void i8042_pio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;

	(void)len;
	pthread_mutex_lock(&k->lock);
	if (off == PORT_DATA) {
		k->last_write_cmd = 0;
		i8042_data_write(k, data[0]);
	} else if (off == PORT_STATUS) {
		k->last_write_cmd = STATUS_CMD;
		i8042_command(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Scan code set 1 (the controller translates by default): Ctrl, Alt
	 * and Del pressed, then released in reverse order. */
	static const uint8_t seq[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	int err = 0;

	pthread_mutex_lock(&k->lock);
	if (I8042_BUF_SIZE - k->len < sizeof(seq)) {
		err = -ENOSPC;
	} else {
		for (size_t i = 0; i < sizeof(seq); i++)
			i8042_push(k, seq[i]);
		i8042_kbd_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return err;
}

void i8042_save(struct i8042 *k, struct i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&k->lock);
	st->ctr = k->ctr;
	st->pending_cmd = k->pending_cmd;
	st->last_write_cmd = k->last_write_cmd;
	st->len = (uint8_t)k->len;
	st->aux_mask = k->aux_mask;
	for (unsigned i = 0; i < k->len; i++)
		st->buf[i] = k->buf[(k->head + i) % I8042_BUF_SIZE];
	pthread_mutex_unlock(&k->lock);
}

int i8042_state_check(const struct i8042_state *st)
{
	uint8_t c = st->pending_cmd;

	if (c != 0 && c != CMD_WRITE_CTR && c != CMD_WRITE_OUT && c != CMD_WRITE_AUX &&
	    c != CMD_AUX_LOOP)
		return -EINVAL;
	if (st->last_write_cmd != 0 && st->last_write_cmd != STATUS_CMD)
		return -EINVAL;
	/* len becomes an index into buf: bound it */
	if (st->len > I8042_BUF_SIZE)
		return -EINVAL;
	if (st->len < I8042_BUF_SIZE && st->aux_mask >> st->len)
		return -EINVAL; /* AUX marks only on bytes that are there */
	for (size_t i = 0; i < sizeof(st->pad); i++)
		if (st->pad[i])
			return -EINVAL;
	for (size_t i = st->len; i < I8042_BUF_SIZE; i++)
		if (st->buf[i])
			return -EINVAL;
	return 0;
}

void i8042_restore(struct i8042 *k, const struct i8042_state *st)
{
	pthread_mutex_lock(&k->lock);
	k->ctr = st->ctr;
	k->pending_cmd = st->pending_cmd;
	k->last_write_cmd = st->last_write_cmd;
	k->head = 0;
	k->len = st->len <= I8042_BUF_SIZE ? st->len : 0;
	memcpy(k->buf, st->buf, k->len);
	k->aux_mask = k->len ? st->aux_mask : 0;
	pthread_mutex_unlock(&k->lock);
}
