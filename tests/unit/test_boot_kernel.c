/* Kernel loader tests: synthetic ELF and bzImage images, valid and hostile,
 * on a small fake guest memory; and a real kernel when one is cached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/kernel.h"
#include "boot/layout.h"

#define MEM_SIZE   MiB(32)
#define IMG_MAX	   0x4000
#define ELF_NOTES  0x200 /* file offset of the note segment */
#define ELF_DATA   0x400 /* file offset of the PT_LOAD data */
#define ELF_FILESZ 0x100
#define ELF_MEMSZ  0x2000
#define ELF_PADDR  0x200000ULL
#define ELF_ENTRY  (ELF_PADDR + 0x10)
#define PVH_ENTRY  (ELF_PADDR + 0x20)

struct img {
	uint8_t b[IMG_MAX];
	size_t len;
};

struct fixture {
	struct guest_mem mem;
	struct img img;
	struct kernel_image k;
	struct fault f;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || gm_create(&fx->mem, MEM_SIZE, GM_BACKING_ANON) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	gm_destroy(&fx->mem);
	free(fx);
	return 0;
}

/* ---- ELF images ---- */

static Elf64_Ehdr *ehdr(struct img *im)
{
	return (Elf64_Ehdr *)im->b;
}

static Elf64_Phdr *phdr(struct img *im, int i)
{
	return (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

/* Append one note at *off: name, type, desc of descsz bytes. */
static void put_note(struct img *im, size_t *off, const char *name, uint32_t type, const void *desc,
		     uint32_t descsz)
{
	Elf64_Nhdr nh = {
	    .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type};

	memcpy(im->b + *off, &nh, sizeof(nh));
	*off += sizeof(nh);
	memcpy(im->b + *off, name, nh.n_namesz);
	*off += (nh.n_namesz + 3) & ~3U;
	memcpy(im->b + *off, desc, descsz);
	*off += (descsz + 3) & ~3U;
}

/* A valid vmlinux-like ELF: one PT_LOAD (with .bss) and a PT_NOTE holding a
 * GNU note and, if pvh, the Xen PVH entry note. */
static void build_elf(struct img *im, bool pvh)
{
	Elf64_Ehdr *eh = ehdr(im);
	Elf64_Phdr *load = phdr(im, 0), *note = phdr(im, 1);
	uint32_t gnu = 0x1234, entry = (uint32_t)PVH_ENTRY;
	size_t off = ELF_NOTES;

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ELF_ENTRY;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;

	put_note(im, &off, "GNU", 1, &gnu, 4);
	if (pvh)
		put_note(im, &off, "Xen", KERNEL_XEN_ELFNOTE_PHYS32_ENTRY, &entry, 4);
	note->p_type = PT_NOTE;
	note->p_offset = ELF_NOTES;
	note->p_filesz = off - ELF_NOTES;
	note->p_align = 4;

	load->p_type = PT_LOAD;
	load->p_offset = ELF_DATA;
	load->p_paddr = ELF_PADDR;
	load->p_vaddr = 0xffffffff81000000ULL;
	load->p_filesz = ELF_FILESZ;
	load->p_memsz = ELF_MEMSZ;
	for (int i = 0; i < ELF_FILESZ; i++)
		im->b[ELF_DATA + i] = (uint8_t)(i + 1);
	im->len = ELF_DATA + ELF_FILESZ;
}

static int load(struct fixture *fx, bool pvh)
{
	memset(&fx->f, 0, sizeof(fx->f));
	return kernel_load(&fx->mem, fx->img.b, fx->img.len, pvh, &fx->k, &fx->f);
}

/* Expect kernel_load to fail with err and a message containing what. */
static void expect_fail(struct fixture *fx, bool pvh, int err, const char *what)
{
	assert_int_equal(load(fx, pvh), err);
	if (!strstr(fx->f.msg, what))
		fail_msg("fault \"%s\" does not mention \"%s\"", fx->f.msg, what);
}

static void test_elf_valid(void **state)
{
	struct fixture *fx = *state;
	uint8_t *g = gm_ptr(&fx->mem, ELF_PADDR, ELF_MEMSZ);

	memset(g, 0xcc, ELF_MEMSZ); /* the loader must zero .bss */
	build_elf(&fx->img, true);
	assert_int_equal(load(fx, false), 0);
	assert_int_equal(fx->k.protocol, BOOT_LINUX64);
	assert_int_equal(fx->k.entry, ELF_ENTRY);
	assert_int_equal(fx->k.load_start, ELF_PADDR);
	assert_int_equal(fx->k.load_end, ELF_PADDR + ELF_MEMSZ);
	assert_false(fx->k.is_bzimage);
	assert_int_equal(fx->k.cmdline_max, LAYOUT_CMDLINE_MAX);
	assert_memory_equal(g, fx->img.b + ELF_DATA, ELF_FILESZ);
	for (int i = ELF_FILESZ; i < ELF_MEMSZ; i++)
		assert_int_equal(g[i], 0);
}

static void test_elf_pvh(void **state)
{
	struct fixture *fx = *state;

	build_elf(&fx->img, true);
	assert_int_equal(load(fx, true), 0);
	assert_int_equal(fx->k.protocol, BOOT_PVH);
	assert_int_equal(fx->k.entry, PVH_ENTRY);
	/* No note: falls back to the 64-bit entry. */
	build_elf(&fx->img, false);
	assert_int_equal(load(fx, true), 0);
	assert_int_equal(fx->k.protocol, BOOT_LINUX64);
	assert_int_equal(fx->k.entry, ELF_ENTRY);
}

static void test_elf_pvh_8byte_desc(void **state)
{
	struct fixture *fx = *state;
	uint64_t entry = PVH_ENTRY;
	size_t off = ELF_NOTES;

	build_elf(&fx->img, false);
	put_note(&fx->img, &off, "Xen", KERNEL_XEN_ELFNOTE_PHYS32_ENTRY, &entry, 8);
	phdr(&fx->img, 1)->p_filesz = off - ELF_NOTES;
	assert_int_equal(load(fx, true), 0);
	assert_int_equal(fx->k.protocol, BOOT_PVH);
	assert_int_equal(fx->k.entry, PVH_ENTRY);
}

static void test_elf_truncated(void **state)
{
	struct fixture *fx = *state;

	build_elf(&fx->img, false);
	fx->img.len = 3;
	expect_fail(fx, false, -EINVAL, "neither");
	fx->img.len = 10;
	expect_fail(fx, false, -EINVAL, "truncated");
	fx->img.len = sizeof(Elf64_Ehdr) + 10; /* program headers cut */
	expect_fail(fx, false, -EINVAL, "program headers");
	fx->img.len = ELF_DATA + ELF_FILESZ - 1; /* segment data cut */
	expect_fail(fx, false, -EINVAL, "outside the");
	fx->img.len = 0;
	expect_fail(fx, false, -EINVAL, "neither");
	assert_int_equal(kernel_load(&fx->mem, NULL, 0, false, &fx->k, &fx->f), -EINVAL);
}

static void test_elf_bad_header(void **state)
{
	struct fixture *fx = *state;

	build_elf(&fx->img, false);
	fx->img.b[1] = 'X';
	expect_fail(fx, false, -EINVAL, "neither");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_ident[EI_CLASS] = ELFCLASS32;
	expect_fail(fx, false, -EINVAL, "64-bit");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_fail(fx, false, -EINVAL, "little-endian");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_machine = EM_386;
	expect_fail(fx, false, -EINVAL, "x86_64");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_type = ET_DYN;
	expect_fail(fx, false, -EINVAL, "executable");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_phentsize = 32;
	expect_fail(fx, false, -EINVAL, "program header table");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_phnum = 0;
	expect_fail(fx, false, -EINVAL, "program header table");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_phnum = 65;
	expect_fail(fx, false, -EINVAL, "program header table");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_phoff = UINT64_MAX - 8; /* offset + size overflows */
	expect_fail(fx, false, -EINVAL, "program headers");
}

static void test_elf_bad_segments(void **state)
{
	struct fixture *fx = *state;
	Elf64_Phdr *ph = phdr(&fx->img, 0);

	build_elf(&fx->img, false);
	ph->p_paddr = 0x1000;
	expect_fail(fx, false, -EINVAL, "below 1 MiB");
	build_elf(&fx->img, false);
	ph->p_paddr = MEM_SIZE - 0x1000; /* runs off the end of RAM */
	expect_fail(fx, false, -ENOMEM, "not inside guest RAM");
	build_elf(&fx->img, false);
	ph->p_paddr = GiB(3) + MiB(1); /* in the MMIO hole */
	expect_fail(fx, false, -ENOMEM, "not inside guest RAM");
	build_elf(&fx->img, false);
	ph->p_paddr = UINT64_MAX - 0x1000;
	expect_fail(fx, false, -EINVAL, "overflows");
	build_elf(&fx->img, false);
	ph->p_memsz = 1ULL << 40;
	expect_fail(fx, false, -ENOMEM, "not inside guest RAM");
	build_elf(&fx->img, false);
	ph->p_offset = 0x10000;
	expect_fail(fx, false, -EINVAL, "outside the");
	build_elf(&fx->img, false);
	ph->p_offset = UINT64_MAX - 0x10;
	expect_fail(fx, false, -EINVAL, "outside the");
	build_elf(&fx->img, false);
	ph->p_filesz = ELF_MEMSZ + 1;
	ph->p_offset = 0;
	fx->img.len = IMG_MAX;
	expect_fail(fx, false, -EINVAL, "exceeds memory size");
	build_elf(&fx->img, false);
	ph->p_type = PT_NULL;
	expect_fail(fx, false, -EINVAL, "no loadable segment");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_entry = 0x1000;
	expect_fail(fx, false, -EINVAL, "entry point");
	build_elf(&fx->img, false);
	ehdr(&fx->img)->e_entry = ELF_PADDR + ELF_MEMSZ;
	expect_fail(fx, false, -EINVAL, "entry point");
}

static void test_elf_bad_notes(void **state)
{
	struct fixture *fx = *state;
	Elf64_Phdr *note = phdr(&fx->img, 1);
	Elf64_Nhdr *first = (Elf64_Nhdr *)(fx->img.b + ELF_NOTES);
	uint64_t far = 1ULL << 33;
	uint16_t small = 1;
	size_t off;

	build_elf(&fx->img, true);
	first->n_namesz = 0xffffffff;
	expect_fail(fx, true, -EINVAL, "overruns");
	build_elf(&fx->img, true);
	first->n_descsz = 0xfffffffd;
	expect_fail(fx, true, -EINVAL, "overruns");
	build_elf(&fx->img, true);
	note->p_filesz += 4; /* the last note's desc now ends 4 bytes early */
	note->p_filesz -= 8;
	expect_fail(fx, true, -EINVAL, "overruns");
	build_elf(&fx->img, true);
	note->p_offset = IMG_MAX * 2;
	expect_fail(fx, true, -EINVAL, "note segment");
	build_elf(&fx->img, true);
	note->p_filesz = UINT64_MAX;
	expect_fail(fx, true, -EINVAL, "note segment");

	build_elf(&fx->img, false);
	off = ELF_NOTES + note->p_filesz;
	put_note(&fx->img, &off, "Xen", KERNEL_XEN_ELFNOTE_PHYS32_ENTRY, &small, 2);
	note->p_filesz = off - ELF_NOTES;
	expect_fail(fx, true, -EINVAL, "descriptor");
	build_elf(&fx->img, false);
	off = ELF_NOTES + note->p_filesz;
	put_note(&fx->img, &off, "Xen", KERNEL_XEN_ELFNOTE_PHYS32_ENTRY, &far, 8);
	note->p_filesz = off - ELF_NOTES;
	expect_fail(fx, true, -EINVAL, "32-bit");
	/* A PVH entry outside the kernel. */
	build_elf(&fx->img, false);
	far = 0x1000;
	off = ELF_NOTES + note->p_filesz;
	put_note(&fx->img, &off, "Xen", KERNEL_XEN_ELFNOTE_PHYS32_ENTRY, &far, 8);
	note->p_filesz = off - ELF_NOTES;
	expect_fail(fx, true, -EINVAL, "entry point");
	/* Without prefer_pvh the notes are not read at all. */
	build_elf(&fx->img, true);
	first->n_namesz = 0xffffffff;
	assert_int_equal(load(fx, false), 0);
	/* A trailing fragment shorter than a note header is ignored. */
	build_elf(&fx->img, false);
	note->p_filesz += 5;
	assert_int_equal(load(fx, true), 0);
	assert_int_equal(fx->k.protocol, BOOT_LINUX64);
}

/* ---- bzImage ---- */

#define BZ_SETUP_SECTS 4
#define BZ_SETUP_LEN   ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PM_LEN      0x1000
#define BZ_HDR_END     0x26c /* boot protocol 2.15 */

static struct setup_header *bzhdr(struct img *im)
{
	return (struct setup_header *)(im->b + 0x1f1);
}

static void build_bz(struct img *im)
{
	struct setup_header *h = bzhdr(im);

	memset(im, 0, sizeof(*im));
	h->setup_sects = BZ_SETUP_SECTS;
	h->boot_flag = 0xAA55;
	h->jump = (uint16_t)(0xeb | ((BZ_HDR_END - 0x202) << 8));
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->relocatable_kernel = 1;
	h->kernel_alignment = 0x200000;
	h->pref_address = 0x1000000;
	h->init_size = 0x100000;
	h->cmdline_size = 2047;
	h->initrd_addr_max = 0x7fffffff;
	for (int i = 0; i < BZ_PM_LEN; i++)
		im->b[BZ_SETUP_LEN + i] = (uint8_t)(i * 7);
	im->len = BZ_SETUP_LEN + BZ_PM_LEN;
}

static void test_bz_valid(void **state)
{
	struct fixture *fx = *state;

	build_bz(&fx->img);
	assert_int_equal(load(fx, true), 0);
	assert_int_equal(fx->k.protocol, BOOT_LINUX64);
	assert_true(fx->k.is_bzimage);
	assert_int_equal(fx->k.entry, LAYOUT_HIMEM_START + 0x200);
	assert_int_equal(fx->k.load_start, LAYOUT_HIMEM_START);
	/* Runs at pref_address and needs init_size from there. */
	assert_int_equal(fx->k.load_end, 0x1000000 + 0x100000);
	assert_int_equal(fx->k.cmdline_max, 2048);
	assert_int_equal(fx->k.setup.version, 0x020f);
	assert_int_equal(fx->k.setup.init_size, 0x100000);
	assert_memory_equal(gm_ptr(&fx->mem, LAYOUT_HIMEM_START, BZ_PM_LEN),
			    fx->img.b + BZ_SETUP_LEN, BZ_PM_LEN);
}

static void test_bz_setup_sects_zero(void **state)
{
	struct fixture *fx = *state;

	build_bz(&fx->img);
	bzhdr(&fx->img)->setup_sects = 0; /* means 4 */
	assert_int_equal(load(fx, false), 0);
	assert_memory_equal(gm_ptr(&fx->mem, LAYOUT_HIMEM_START, BZ_PM_LEN),
			    fx->img.b + BZ_SETUP_LEN, BZ_PM_LEN);
}

static void test_bz_header_fields(void **state)
{
	struct fixture *fx = *state;

	/* Header ends before kernel_info_offset: that field must read 0. */
	build_bz(&fx->img);
	bzhdr(&fx->img)->jump = (uint16_t)(0xeb | ((0x268 - 0x202) << 8));
	bzhdr(&fx->img)->kernel_info_offset = 0xdeadbeef;
	assert_int_equal(load(fx, false), 0);
	assert_int_equal(fx->k.setup.kernel_info_offset, 0);
	assert_int_equal(fx->k.setup.init_size, 0x100000);
	/* A small cmdline_size limits the command line. */
	build_bz(&fx->img);
	bzhdr(&fx->img)->cmdline_size = 255;
	assert_int_equal(load(fx, false), 0);
	assert_int_equal(fx->k.cmdline_max, 256);
	/* A non-relocatable kernel with no pref_address runs where loaded. */
	build_bz(&fx->img);
	bzhdr(&fx->img)->relocatable_kernel = 0;
	bzhdr(&fx->img)->pref_address = 0;
	assert_int_equal(load(fx, false), 0);
	assert_int_equal(fx->k.load_end, LAYOUT_HIMEM_START + 0x100000);
}

static void test_bz_hostile(void **state)
{
	struct fixture *fx = *state;

	build_bz(&fx->img);
	bzhdr(&fx->img)->version = 0x020b;
	expect_fail(fx, false, -EINVAL, "too old");
	build_bz(&fx->img);
	bzhdr(&fx->img)->xloadflags = 0;
	expect_fail(fx, false, -EINVAL, "XLF_KERNEL_64");
	build_bz(&fx->img);
	bzhdr(&fx->img)->loadflags = 0;
	expect_fail(fx, false, -EINVAL, "loaded high");
	build_bz(&fx->img);
	bzhdr(&fx->img)->header = 0x12345678;
	expect_fail(fx, false, -EINVAL, "HdrS");
	build_bz(&fx->img);
	bzhdr(&fx->img)->jump = 0x00eb; /* header ends before "HdrS" */
	expect_fail(fx, false, -EINVAL, "HdrS");
	build_bz(&fx->img);
	fx->img.len = 0x220;
	expect_fail(fx, false, -EINVAL, "truncated");
	build_bz(&fx->img);
	fx->img.len = BZ_SETUP_LEN; /* no protected-mode part */
	expect_fail(fx, false, -EINVAL, "truncated");
	build_bz(&fx->img);
	fx->img.len = BZ_SETUP_LEN + 0x200; /* ends at the 64-bit entry */
	expect_fail(fx, false, -EINVAL, "before its 64-bit entry");
	build_bz(&fx->img);
	bzhdr(&fx->img)->setup_sects = 200;
	expect_fail(fx, false, -EINVAL, "truncated");
	build_bz(&fx->img);
	bzhdr(&fx->img)->init_size = 0x10000000; /* 256 MiB in a 32 MiB guest */
	expect_fail(fx, false, -ENOMEM, "too large");
	build_bz(&fx->img);
	bzhdr(&fx->img)->pref_address = GiB(3);
	expect_fail(fx, false, -ENOMEM, "too large");
	build_bz(&fx->img);
	bzhdr(&fx->img)->pref_address = UINT64_MAX - 0x1000;
	expect_fail(fx, false, -EINVAL, "overflows");
	build_bz(&fx->img);
	bzhdr(&fx->img)->kernel_alignment = 0x3000; /* not a power of two: ignored */
	assert_int_equal(load(fx, false), 0);
}

static void test_bz_too_large(void **state)
{
	struct fixture *fx = *state;
	size_t len = MEM_SIZE;
	uint8_t *big = calloc(1, len);

	assert_non_null(big);
	build_bz(&fx->img);
	memcpy(big, fx->img.b, BZ_SETUP_LEN);
	assert_int_equal(kernel_load(&fx->mem, big, len, false, &fx->k, &fx->f), -ENOMEM);
	assert_non_null(strstr(fx->f.msg, "too large"));
	free(big);
}

/* ---- a real kernel, if resources/ has built one ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(fp);
	return buf;
}

static void test_real_kernel(void **state)
{
	const char *pats[] = {"/var/cache/flint/kernel-*/vmlinux",
			      "/var/cache/flint/kernel-*/bzImage"};
	struct guest_mem mem;
	int tried = 0;

	(void)state;
	assert_int_equal(gm_create(&mem, MiB(256), GM_BACKING_ANON), 0);
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		glob_t g;

		if (glob(pats[p], 0, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++) {
			struct kernel_image k;
			struct fault f = {{0}};
			size_t len = 0;
			uint8_t *img = read_file(g.gl_pathv[i], &len);

			if (!img)
				continue;
			for (int pvh = 0; pvh < 2; pvh++) {
				if (kernel_load(&mem, img, len, pvh, &k, &f) != 0)
					fail_msg("%s: %s", g.gl_pathv[i], f.msg);
				assert_true(k.entry >= k.load_start && k.entry < k.load_end);
				assert_true(k.load_start >= LAYOUT_HIMEM_START);
				assert_true(k.cmdline_max >= 256);
			}
			tried++;
			free(img);
		}
		globfree(&g);
	}
	gm_destroy(&mem);
	if (!tried)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_elf_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_pvh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_pvh_8byte_desc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_bad_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_bad_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elf_bad_notes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bz_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bz_setup_sects_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bz_header_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bz_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bz_too_large, setup, teardown),
	    cmocka_unit_test(test_real_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
