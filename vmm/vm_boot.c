/* Boot set-up: kernel, initrd, command line, zero page or PVH start info,
 * MP table and the boot vCPU's registers. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/initrd.h"
#include "boot/mptable.h"
#include "boot/pvh.h"
#include "boot/regs.h"
#include "boot/zeropage.h"
#include "vmm/vm.h"

struct mapped_file {
	uint8_t *data;
	size_t len;
};

/* Map a whole regular file read-only; refuse empty files and files larger
 * than max (nothing bigger than guest RAM can be loaded anyway). */
static int file_map(const char *what, const char *path, uint64_t max, struct mapped_file *m,
		    struct fault *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	m->data = NULL;
	m->len = 0;
	if (fd < 0) {
		err = -errno;
		fault_set(f, "cannot open %s %s: %s", what, path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fault_set(f, "%s %s is not a regular file", what, path);
		err = -EINVAL;
	} else if (st.st_size == 0 || (uint64_t)st.st_size > max) {
		fault_set(f, "%s %s is %s (%lld bytes)", what, path,
			  st.st_size == 0 ? "empty" : "larger than guest memory",
			  (long long)st.st_size);
		err = -EINVAL;
	} else {
		m->len = (size_t)st.st_size;
		m->data = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m->data == MAP_FAILED) {
			err = -errno;
			fault_set(f, "cannot map %s %s: %s", what, path, strerror(errno));
			m->data = NULL;
		}
	}
	close(fd);
	return err;
}

static void file_unmap(struct mapped_file *m)
{
	if (m->data)
		munmap(m->data, m->len);
	m->data = NULL;
}

int vm_boot_load_kernel(struct vm *vm, struct fault *f)
{
	const struct cfg_boot_source *bs = &vm->cfg->boot_source;
	struct mapped_file img;
	int err = file_map("kernel", bs->kernel_image_path, vm->mem.ram_size, &img, f);

	if (err)
		return err;
	err = kernel_load(&vm->mem, img.data, img.len, vm->opt.prefer_pvh, &vm->kernel, f);
	file_unmap(&img);
	if (err)
		return err;
	cmdline_init(&vm->cmdline, vm->kernel.cmdline_max);
	err = cmdline_append(&vm->cmdline,
			     bs->has_boot_args ? bs->boot_args : LAYOUT_DEFAULT_CMDLINE);
	if (err)
		fault_set(f,
			  "boot_args do not fit the kernel's %u-byte command line, or hold "
			  "control characters",
			  vm->kernel.cmdline_max);
	return err;
}

static int vm_boot_initrd(struct vm *vm, uint64_t *gpa, uint64_t *len, struct fault *f)
{
	const char *path = vm->cfg->boot_source.initrd_path;
	struct mapped_file img;
	int err;

	*gpa = *len = 0;
	if (!path[0])
		return 0;
	err = file_map("initrd", path, vm->mem.ram_size, &img, f);
	if (err)
		return err;
	err = initrd_place(&vm->mem, &vm->kernel, img.len, gpa, f);
	if (!err && gm_load(&vm->mem, *gpa, img.data, img.len) != 0) {
		fault_set(f, "initrd does not fit in guest memory");
		err = -ENOMEM;
	}
	if (!err)
		*len = img.len;
	file_unmap(&img);
	return err;
}

/* Registers of the boot vCPU for the chosen entry protocol. */
static int vm_boot_regs(struct vm *vm, struct fault *f)
{
	struct vcpu *bsp = &vm->vcpus[0];
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int err;

	if (ioctl(bsp->fd, KVM_GET_SREGS, &sregs) != 0) {
		fault_set(f, "KVM_GET_SREGS failed: %s", strerror(errno));
		return -EIO;
	}
	memset(&regs, 0, sizeof(regs));
	if (vm->kernel.protocol == BOOT_PVH)
		err = regs_setup_pvh(&vm->mem, vm->kernel.entry, LAYOUT_PVH_INFO_START, &sregs,
				     &regs);
	else
		err = regs_setup_long_mode(&vm->mem, vm->kernel.entry, LAYOUT_ZERO_PAGE, &sregs,
					   &regs);
	if (err) {
		fault_set(f, "setting up the boot registers failed");
		return err;
	}
	if (ioctl(bsp->fd, KVM_SET_SREGS, &sregs) != 0 ||
	    ioctl(bsp->fd, KVM_SET_REGS, &regs) != 0) {
		fault_set(f, "setting the boot vCPU's registers failed: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

int vm_boot_finish(struct vm *vm, struct fault *f)
{
	uint64_t initrd_gpa, initrd_len;
	int err = vm_boot_initrd(vm, &initrd_gpa, &initrd_len, f);

	if (!err)
		err = cmdline_write(&vm->mem, &vm->cmdline, LAYOUT_CMDLINE_START, f);
	if (!err && vm->kernel.protocol == BOOT_PVH)
		err =
		    pvh_write_start_info(&vm->mem, LAYOUT_CMDLINE_START, initrd_gpa, initrd_len, f);
	else if (!err)
		err = zeropage_write(&vm->mem, &vm->kernel, LAYOUT_CMDLINE_START,
				     (uint32_t)vm->cmdline.len, initrd_gpa, initrd_len, f);
	if (!err)
		err = mptable_write(&vm->mem, vm->nvcpus, f);
	if (!err)
		err = vm_boot_regs(vm, f);
	if (!err)
		LOG_INFO(vm->log, "Kernel command line: %s", vm->cmdline.buf);
	return err;
}
