/* Writing and opening snapshot memory files. */
#include "snapshot/memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_PAGE 4096u

int snap_dirty_alloc(struct snap_dirty *d, const struct guest_mem *mem)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < mem->nregions; i++) {
		d->npages[i] = mem->regions[i].size / SNAP_PAGE;
		d->bits[i] = calloc((size_t)(d->npages[i] + 63) / 64 + 1, sizeof(uint64_t));
		if (!d->bits[i]) {
			snap_dirty_free(d);
			return -ENOMEM;
		}
	}
	return 0;
}

void snap_dirty_free(struct snap_dirty *d)
{
	for (int i = 0; i < GM_MAX_REGIONS; i++) {
		free(d->bits[i]);
		d->bits[i] = NULL;
	}
}

uint64_t snap_dirty_count(const struct snap_dirty *d, const struct guest_mem *mem)
{
	uint64_t n = 0;

	for (int i = 0; i < mem->nregions; i++)
		for (uint64_t w = 0; w < (d->npages[i] + 63) / 64; w++)
			n += (uint64_t)__builtin_popcountll(d->bits[i][w]);
	return n;
}

static int snap_pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len > 0) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = pwrite(fd, p, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static bool snap_page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;

	for (unsigned i = 0; i < SNAP_PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Whether page pg of region i goes into the file. resident: the pagemap
 * map of the region, or NULL. */
static bool snap_page_wanted(const struct snap_dirty *dirty, int i, uint64_t pg, const uint8_t *p,
			     const unsigned char *resident)
{
	if (dirty)
		return (dirty->bits[i][pg / 64] >> (pg % 64)) & 1;
	if (resident && !(resident[pg] & 1))
		return false;
	return !snap_page_zero(p);
}

/* Write the wanted pages of region i in runs (one pwrite per run). */
static int snap_write_region(int fd, const struct gm_region *r, int i, uint64_t file_off,
			     const struct snap_dirty *dirty, const unsigned char *resident)
{
	uint64_t npages = r->size / SNAP_PAGE, run = 0;

	for (uint64_t pg = 0; pg <= npages; pg++) {
		bool want = pg < npages &&
			    snap_page_wanted(dirty, i, pg, r->host + pg * SNAP_PAGE, resident);
		int err;

		if (want) {
			run++;
			continue;
		}
		if (run == 0)
			continue;
		err = snap_pwrite_all(fd, r->host + (pg - run) * SNAP_PAGE, run * SNAP_PAGE,
				      file_off + (pg - run) * SNAP_PAGE);
		if (err)
			return err;
		run = 0;
	}
	return 0;
}

#define SNAP_PM_CHUNK 8192 /* pagemap entries read at a time */

/* Which pages of region r hold data (one byte per 4 KiB page), from
 * /proc/self/pagemap: present (bit 63) or swapped out (bit 62); a page
 * with neither was never touched and reads as zero. NULL when it cannot be
 * had (every page is then read). Uses only open, lseek and read. */
static unsigned char *snap_resident(const struct gm_region *r)
{
	size_t n = (size_t)(r->size / SNAP_PAGE), done = 0;
	unsigned char *v = malloc(n + 1);
	uint64_t *e = malloc(SNAP_PM_CHUNK * sizeof(uint64_t));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t at = (off_t)((uintptr_t)r->host / SNAP_PAGE * sizeof(uint64_t));

	if (!v || !e || fd < 0 || lseek(fd, at, SEEK_SET) != at)
		goto fail;
	while (done < n) {
		size_t k = n - done < SNAP_PM_CHUNK ? n - done : SNAP_PM_CHUNK;
		ssize_t got = read(fd, e, k * sizeof(uint64_t));

		if (got != (ssize_t)(k * sizeof(uint64_t)))
			goto fail;
		for (size_t j = 0; j < k; j++)
			v[done + j] = (e[j] >> 62) != 0;
		done += k;
	}
	free(e);
	close(fd);
	return v;
fail:
	free(v);
	free(e);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int snap_mem_write(const struct guest_mem *mem, const char *path, const struct snap_dirty *dirty,
		   bool anon, struct fault *f)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (dirty ? 0 : O_TRUNC);
	int fd = open(path, flags, 0600), err = 0;
	uint64_t off = 0;

	if (fd < 0) {
		err = -errno;
		fault_set(f, "cannot create the memory file '%s': %s", path, strerror(errno));
		return err;
	}
	/* Full size first: a Full snapshot's zero pages and a Diff's clean
	 * pages are holes (or the content already there). */
	if (ftruncate(fd, (off_t)mem->ram_size) != 0)
		err = -errno;
	for (int i = 0; !err && i < mem->nregions; i++) {
		unsigned char *resident = anon && !dirty ? snap_resident(&mem->regions[i]) : NULL;

		err = snap_write_region(fd, &mem->regions[i], i, off, dirty, resident);
		free(resident);
		off += mem->regions[i].size;
	}
	if (close(fd) != 0 && !err)
		err = -errno;
	if (err)
		fault_set(f, "cannot write the memory file '%s': %s", path, strerror(-err));
	return err;
}

int snap_mem_open(const char *path, uint64_t ram_size, uint64_t *dev, uint64_t *ino,
		  struct fault *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int err = -errno;
		fault_set(f, "cannot open the memory file '%s': %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fault_set(f, "the memory file '%s' is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size != ram_size) {
		fault_set(f, "the memory file '%s' has %llu bytes, the snapshot's guest has %llu",
			  path, (unsigned long long)st.st_size, (unsigned long long)ram_size);
		close(fd);
		return -EINVAL;
	}
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return fd;
}

bool snap_same_file(const char *path, uint64_t dev, uint64_t ino)
{
	struct stat st;

	return stat(path, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}
