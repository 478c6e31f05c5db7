/* ELF64 vmlinux loader: PT_LOAD segments copied to their physical addresses,
 * and the Xen PVH entry note for booting in 32-bit protected mode.
 *
 * Every header is copied out of the image before it is looked at (the image
 * may be unaligned), and every offset and size is checked against the file
 * and against guest RAM with overflow checks. */
#include "boot/kernel.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"

/* A vmlinux has about five program headers; a thousand is a hostile image. */
#define ELF_MAX_PHDRS 64

bool elf_probe(const uint8_t *img, size_t len)
{
	return img && len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* True if [off, off+size) lies inside a file of len bytes. */
static bool elf_in_file(size_t len, uint64_t off, uint64_t size)
{
	uint64_t end;

	return !__builtin_add_overflow(off, size, &end) && end <= len;
}

static int elf_check_ehdr(const Elf64_Ehdr *eh, size_t len, struct fault *f)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		fault_set(f, "ELF kernel is not 64-bit little-endian");
		return -EINVAL;
	}
	if (eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC) {
		fault_set(f, "ELF kernel is not an x86_64 executable (machine %u, type %u)",
			  eh->e_machine, eh->e_type);
		return -EINVAL;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS) {
		fault_set(f, "ELF kernel has a bad program header table (%u entries of %u bytes)",
			  eh->e_phnum, eh->e_phentsize);
		return -EINVAL;
	}
	if (!elf_in_file(len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))) {
		fault_set(f, "ELF program headers lie outside the %zu-byte file", len);
		return -EINVAL;
	}
	return 0;
}

static void elf_get_phdr(const uint8_t *img, const Elf64_Ehdr *eh, int i, Elf64_Phdr *ph)
{
	/* In range: elf_check_ehdr checked the whole table against the file. */
	memcpy(ph, img + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int elf_check_load(const struct guest_mem *mem, size_t len, const Elf64_Phdr *ph, int i,
			  struct fault *f)
{
	uint64_t end;

	if (!elf_in_file(len, ph->p_offset, ph->p_filesz)) {
		fault_set(f,
			  "ELF segment %d: file bytes [0x%" PRIx64 ", +0x%" PRIx64
			  ") lie outside the %zu-byte file",
			  i, ph->p_offset, ph->p_filesz, len);
		return -EINVAL;
	}
	if (ph->p_filesz > ph->p_memsz) {
		fault_set(f, "ELF segment %d: file size exceeds memory size", i);
		return -EINVAL;
	}
	if (ph->p_paddr < LAYOUT_HIMEM_START) {
		fault_set(f, "ELF segment %d: address 0x%" PRIx64 " is below 1 MiB", i,
			  ph->p_paddr);
		return -EINVAL;
	}
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end)) {
		fault_set(f, "ELF segment %d: address + size overflows", i);
		return -EINVAL;
	}
	if (!gm_valid(mem, ph->p_paddr, ph->p_memsz)) {
		fault_set(f,
			  "ELF segment %d: [0x%" PRIx64 ", 0x%" PRIx64 ") is not inside guest RAM",
			  i, ph->p_paddr, end);
		return -ENOMEM;
	}
	return 0;
}

/* Check every PT_LOAD and compute the range they cover. */
static int elf_check_loads(const struct guest_mem *mem, const uint8_t *img, size_t len,
			   const Elf64_Ehdr *eh, struct kernel_image *k, struct fault *f)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		int err;

		elf_get_phdr(img, eh, i, &ph);
		if (ph.p_type != PT_LOAD)
			continue;
		err = elf_check_load(mem, len, &ph, i, f);
		if (err)
			return err;
		if (ph.p_memsz == 0)
			continue;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
	}
	if (hi == 0) {
		fault_set(f, "ELF kernel has no loadable segment");
		return -EINVAL;
	}
	k->load_start = lo;
	k->load_end = hi;
	return 0;
}

static int elf_copy_loads(const struct guest_mem *mem, const uint8_t *img, const Elf64_Ehdr *eh,
			  struct fault *f)
{
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		elf_get_phdr(img, eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		/* the whole segment, .bss included, must be RAM */
		if (!gm_ptr(mem, ph.p_paddr, ph.p_memsz) ||
		    gm_load(mem, ph.p_paddr, img + ph.p_offset, ph.p_filesz)) {
			fault_set(f, "ELF segment %d: guest memory is not mapped", i);
			return -EFAULT;
		}
		gm_zero(mem, ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz); /* .bss */
	}
	return 0;
}

static uint64_t elf_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* The PVH entry from one Xen note's descriptor: a 32-bit address stored in 4
 * or 8 bytes. */
static int elf_read_pvh_desc(const uint8_t *desc, uint32_t descsz, uint64_t *entry, struct fault *f)
{
	uint32_t e32;
	uint64_t e64;

	if (descsz == 4) {
		memcpy(&e32, desc, 4);
		e64 = e32;
	} else if (descsz == 8) {
		memcpy(&e64, desc, 8);
	} else {
		fault_set(f, "ELF Xen PVH note has a %u-byte descriptor (want 4 or 8)", descsz);
		return -EINVAL;
	}
	if (e64 >= GiB(4)) {
		fault_set(f, "ELF PVH entry 0x%" PRIx64 " is not a 32-bit address", e64);
		return -EINVAL;
	}
	*entry = e64;
	return 0;
}

/* Walk the notes in img[off, off+size). Returns 1 with *entry set if the PVH
 * note is there, 0 if not, -EINVAL if a note is malformed. Sizes from the
 * file are 32-bit, so sums of a few of them cannot overflow 64 bits. */
static int elf_scan_notes(const uint8_t *img, uint64_t off, uint64_t size, uint64_t align,
			  uint64_t *entry, struct fault *f)
{
	uint64_t pos = 0;

	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name, desc, next;

		memcpy(&nh, img + off + pos, sizeof(nh));
		name = pos + sizeof(nh);
		desc = name + elf_align_up(nh.n_namesz, align);
		next = desc + elf_align_up(nh.n_descsz, align);
		if (next > size) {
			fault_set(f, "ELF note at offset 0x%" PRIx64 " overruns its segment",
				  off + pos);
			return -EINVAL;
		}
		if (nh.n_type == KERNEL_XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(img + off + name, "Xen", 4) == 0) {
			int err = elf_read_pvh_desc(img + off + desc, nh.n_descsz, entry, f);
			return err ? err : 1;
		}
		pos = next;
	}
	return 0;
}

/* Find the Xen PVH entry in the PT_NOTE segments: 1 found, 0 not, or -errno. */
static int elf_find_pvh(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, uint64_t *entry,
			struct fault *f)
{
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		int ret;

		elf_get_phdr(img, eh, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (!elf_in_file(len, ph.p_offset, ph.p_filesz)) {
			fault_set(f, "ELF note segment %d lies outside the file", i);
			return -EINVAL;
		}
		ret = elf_scan_notes(img, ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4, entry,
				     f);
		if (ret)
			return ret;
	}
	return 0;
}

/* Choose the protocol and entry; the entry must lie in the loaded range. */
static int elf_pick_entry(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, bool prefer_pvh,
			  struct kernel_image *k, struct fault *f)
{
	uint64_t pvh_entry = 0;
	int ret = 0;

	k->protocol = BOOT_LINUX64;
	k->entry = eh->e_entry;
	if (prefer_pvh) {
		ret = elf_find_pvh(img, len, eh, &pvh_entry, f);
		if (ret < 0)
			return ret;
	}
	if (ret == 1) {
		k->protocol = BOOT_PVH;
		k->entry = pvh_entry;
	}
	if (k->entry < k->load_start || k->entry >= k->load_end) {
		fault_set(f, "ELF entry point 0x%" PRIx64 " is outside the loaded kernel",
			  k->entry);
		return -EINVAL;
	}
	return 0;
}

int elf_load(const struct guest_mem *mem, const uint8_t *img, size_t len, bool prefer_pvh,
	     struct kernel_image *out, struct fault *f)
{
	Elf64_Ehdr eh;
	int err;

	memset(out, 0, sizeof(*out));
	if (!img || len < sizeof(eh)) {
		fault_set(f, "ELF kernel truncated: %zu bytes", len);
		return -EINVAL;
	}
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		fault_set(f, "kernel image has no ELF magic");
		return -EINVAL;
	}
	err = elf_check_ehdr(&eh, len, f);
	if (!err)
		err = elf_check_loads(mem, img, len, &eh, out, f);
	if (!err)
		err = elf_pick_entry(img, len, &eh, prefer_pvh, out, f);
	if (!err)
		err = elf_copy_loads(mem, img, &eh, f);
	if (err)
		return err;
	out->is_bzimage = false;
	out->cmdline_max = LAYOUT_CMDLINE_MAX;
	return 0;
}
