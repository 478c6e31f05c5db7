/* State file container: writer, checking reader, file I/O. */
#include "snapshot/format.h"
#include "vmm/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/crc64.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int snap_peek_version(const void *buf, size_t len, uint16_t *major, uint16_t *minor,
		      struct fault *f)
{
	const uint8_t *p = buf;

	if (len < SNAP_HEADER_SIZE + SNAP_CRC_SIZE) {
		fault_set(f, "the snapshot state file is truncated (%zu bytes)", len);
		return -EINVAL;
	}
	if (memcmp(p, SNAP_MAGIC, sizeof(SNAP_MAGIC) - 1) != 0) {
		fault_set(f, "not a flint snapshot state file (wrong magic)");
		return -EINVAL;
	}
	*major = get16(p + 8);
	*minor = get16(p + 10);
	return 0;
}

static int snap_check_header(struct snap_reader *r, const uint8_t *p, size_t len, struct fault *f)
{
	uint64_t want, got;

	if (len > SNAP_FILE_MAX) {
		fault_set(f, "the snapshot state file is larger than %u bytes", SNAP_FILE_MAX);
		return -EINVAL;
	}
	if (snap_peek_version(p, len, &r->major, &r->minor, f))
		return -EINVAL;
	if (r->major != SNAP_VERSION_MAJOR || r->minor > SNAP_VERSION_MINOR) {
		fault_set(f,
			  "unsupported snapshot format version v%u.%u.0 (this flint reads "
			  "v%u.0.0 to v%u.%u.0)",
			  r->major, r->minor, SNAP_VERSION_MAJOR, SNAP_VERSION_MAJOR,
			  SNAP_VERSION_MINOR);
		return -EINVAL;
	}
	want = get64(p + len - SNAP_CRC_SIZE);
	got = crc64(p, len - SNAP_CRC_SIZE);
	if (want != got) {
		fault_set(f, "the snapshot state file is corrupt (CRC64 mismatch)");
		return -EINVAL;
	}
	r->nsections = get32(p + 12);
	if (r->nsections > SNAP_MAX_SECTIONS) {
		fault_set(f, "the snapshot state file has too many sections (%u)", r->nsections);
		return -EINVAL;
	}
	return 0;
}

int snap_parse(struct snap_reader *r, const void *buf, size_t len, struct fault *f)
{
	const uint8_t *p = buf;
	size_t off = SNAP_HEADER_SIZE, end;

	memset(r, 0, sizeof(*r));
	if (snap_check_header(r, p, len, f))
		return -EINVAL;
	end = len - SNAP_CRC_SIZE;
	for (uint32_t i = 0; i < r->nsections; i++) {
		struct snap_section *s = &r->sections[i];

		if (end - off < SNAP_SECTION_HDR) {
			fault_set(f, "the snapshot state file is truncated in section %u", i);
			return -EINVAL;
		}
		s->type = get32(p + off);
		s->index = get32(p + off + 4);
		s->len = get32(p + off + 8);
		if (get32(p + off + 12) != 0 || s->type == 0 || s->type >= SNAP_SEC_MAX) {
			fault_set(f, "section %u of the snapshot state file is malformed", i);
			return -EINVAL;
		}
		off += SNAP_SECTION_HDR;
		/* off <= end, and len < 2^32: pad8 cannot wrap a size_t */
		if (pad8(s->len) > end - off) {
			fault_set(f, "the snapshot state file is truncated in section %u", i);
			return -EINVAL;
		}
		s->data = p + off;
		off += pad8(s->len);
	}
	if (off != end) {
		fault_set(f, "the snapshot state file has %zu unexpected trailing bytes",
			  end - off);
		return -EINVAL;
	}
	return 0;
}

const struct snap_section *snap_find(const struct snap_reader *r, uint32_t type, uint32_t index)
{
	for (uint32_t i = 0; i < r->nsections; i++)
		if (r->sections[i].type == type && r->sections[i].index == index)
			return &r->sections[i];
	return NULL;
}

uint32_t snap_count(const struct snap_reader *r, uint32_t type)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->nsections; i++)
		n += r->sections[i].type == type;
	return n;
}

/* Make room for n more bytes. */
static uint8_t *snap_grow(struct snap_writer *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 65536;
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > SNAP_FILE_MAX || w->len + n > SNAP_FILE_MAX) {
		w->err = -E2BIG;
		return NULL;
	}
	while (cap < w->len + n)
		cap *= 2;
	if (cap != w->cap) {
		p = realloc(w->buf, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = p;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void snap_writer_init(struct snap_writer *w)
{
	uint8_t *p;

	memset(w, 0, sizeof(*w));
	p = snap_grow(w, SNAP_HEADER_SIZE);
	if (!p)
		return;
	memcpy(p, SNAP_MAGIC, sizeof(SNAP_MAGIC) - 1); /* no NUL in the file */
	put16(p + 8, SNAP_VERSION_MAJOR);
	put16(p + 10, SNAP_VERSION_MINOR);
	put32(p + 12, 0);
}

void snap_add(struct snap_writer *w, uint32_t type, uint32_t index, const void *data, uint32_t len)
{
	uint8_t *p;

	if (!w->err && w->nsections >= SNAP_MAX_SECTIONS)
		w->err = -E2BIG;
	p = snap_grow(w, SNAP_SECTION_HDR + pad8(len));
	if (!p)
		return;
	put32(p, type);
	put32(p + 4, index);
	put32(p + 8, len);
	put32(p + 12, 0);
	memset(p + SNAP_SECTION_HDR, 0, pad8(len));
	if (len)
		memcpy(p + SNAP_SECTION_HDR, data, len);
	w->nsections++;
}

int snap_finish(struct snap_writer *w)
{
	uint8_t *p = snap_grow(w, SNAP_CRC_SIZE);

	if (!p)
		return w->err;
	put32(w->buf + 12, w->nsections);
	put64(p, crc64(w->buf, w->len - SNAP_CRC_SIZE));
	return 0;
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int snap_read_file(const char *path, uint8_t **buf, size_t *len, struct fault *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = -EINVAL;

	*buf = NULL;
	if (fd < 0) {
		err = -errno;
		fault_set(f, "cannot open the snapshot state file '%s': %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fault_set(f, "the snapshot state file '%s' is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > SNAP_FILE_MAX) {
		fault_set(f, "the snapshot state file '%s' is larger than %u bytes", path,
			  SNAP_FILE_MAX);
		goto out;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	err = *buf ? fd_read_full(fd, *buf, *len) : -ENOMEM;
	if (err) {
		fault_set(f, "cannot read the snapshot state file '%s': %s", path, strerror(-err));
		free(*buf);
		*buf = NULL;
	}
out:
	close(fd);
	return err;
}

int snap_write_file(const char *path, const void *buf, size_t len, struct fault *f)
{
	const uint8_t *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		int err = -errno;
		fault_set(f, "cannot create the snapshot file '%s': %s", path, strerror(errno));
		return err;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;
			fault_set(f, "cannot write the snapshot file '%s': %s", path,
				  strerror(-err));
			close(fd);
			return err;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0) {
		int err = -errno;
		fault_set(f, "cannot write the snapshot file '%s': %s", path, strerror(errno));
		return err;
	}
	return 0;
}
