# flint build. Sources are picked up by directory, so adding a file needs no
# edit here: vmm/ devices/ devices/virtio/ boot/ api/ snapshot/ make up flint,
# jailer/ makes flint-jailer, tests/unit/test_*.c are cmocka tests linked
# against every flint object but vmm/main.c, tests/fuzz/fuzz_*.c are
# libFuzzer targets.

CC      ?= gcc
CLANG   ?= clang
PYTHON  ?= /usr/bin/python3
BUILD   := build
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
BASE    := -std=gnu11 -D_GNU_SOURCE -I. -DFLINT_VERSION=\"$(VERSION)\" $(WARN) -MMD -MP
REL_CFLAGS := $(BASE) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
SAN_CFLAGS := $(BASE) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined -DFLINT_TEST_HOOKS
LDLIBS  := -lpthread -luring
JAIL_LDLIBS := -lbpf

# The seccomp allowlists, compiled to BPF by tools/seccomp_gen.c (libseccomp)
# at build time; flint links the generated programs, not libseccomp.
SECCOMP_GEN := $(BUILD)/gen/seccomp_filters.c
FLINT_SRCS := $(sort $(wildcard vmm/*.c devices/*.c devices/virtio/*.c boot/*.c api/*.c snapshot/*.c))
LIB_SRCS   := $(filter-out vmm/main.c,$(FLINT_SRCS)) $(SECCOMP_GEN)
JAIL_SRCS  := $(sort $(wildcard jailer/*.c))
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

REL_OBJS   := $(FLINT_SRCS:%.c=$(BUILD)/rel/%.o) $(SECCOMP_GEN:%.c=$(BUILD)/rel/%.o)
SAN_OBJS   := $(FLINT_SRCS:%.c=$(BUILD)/san/%.o) $(SECCOMP_GEN:%.c=$(BUILD)/san/%.o)
SAN_LIB    := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/san/tests/%)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all san unit test integration demo bench guest fuzz fuzz-run lint clean install-deps

all: $(BUILD)/flint $(BUILD)/flint-jailer

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(REL_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC san  $<")
	$(Q)$(CC) $(SAN_CFLAGS) -c $< -o $@

$(BUILD)/seccomp_gen: tools/seccomp_gen.c vmm/seccomp.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  HOSTCC  $@")
	$(Q)$(CC) $(filter-out -MMD -MP,$(BASE)) -O1 -o $@ $< -lseccomp

$(SECCOMP_GEN): $(BUILD)/seccomp_gen
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(BUILD)/flint: $(REL_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(REL_CFLAGS) -static -o $@ $^ $(LDLIBS)

$(BUILD)/san/flint: $(SAN_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SAN_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/flint-jailer: $(JAIL_SRCS:%.c=$(BUILD)/rel/%.o)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS) $(JAIL_LDLIBS)

$(BUILD)/san/flint-jailer: $(JAIL_SRCS:%.c=$(BUILD)/san/%.o)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SAN_CFLAGS) -o $@ $^ $(LDLIBS) $(JAIL_LDLIBS)

$(BUILD)/san/tests/%: tests/unit/%.c $(SAN_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(SAN_CFLAGS) -Wno-missing-prototypes -o $@ $^ $(LDLIBS) -lcmocka

san: $(BUILD)/san/flint $(BUILD)/san/flint-jailer

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

# The freestanding test guest and the Linux guest kit (kernel, rootfs,
# initramfs). The kernel build is cached outside the repo, see
# resources/build-guest.sh.
guest:
	$(MAKE) -C tests/guest BUILD=$(abspath $(BUILD))/guest
	resources/build-guest.sh $(abspath $(BUILD))/guest

# make test: sanitized build, unit tests, bounded fuzzing, then the pytest
# suite booting real guests. The last line is the combined summary.
test: all san $(UNIT_BINS) guest
	@tests/run-all.sh

integration: san guest
	FLINT_BIN=$(abspath $(BUILD))/san/flint $(PYTHON) -m pytest -q tests/integration

# A fresh machine: install the Debian packages first, then build and boot.
demo:
	resources/install-deps.sh
	$(MAKE) all guest
	@resources/demo.sh $(abspath $(BUILD))

bench: all guest
	@bench/run.sh $(abspath $(BUILD))

# libFuzzer targets: clang, ASan+UBSan, built from the same sources (each
# object compiled once, then linked into every target).
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -I. -DFLINT_VERSION=\"$(VERSION)\" -O1 -g \
               -fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra -Werror \
               -Wno-missing-field-initializers -DFLINT_TEST_HOOKS
FUZZ_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC fuzz $<")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BINS)

# Run every fuzz target for FUZZ_SECONDS each (used by make test).
FUZZ_SECONDS ?= 20
fuzz-run: $(FUZZ_BINS)
	@tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

LINT_SRCS = $(FLINT_SRCS) $(JAIL_SRCS) $(UNIT_SRCS) $(FUZZ_SRCS) tools/seccomp_gen.c \
            $(wildcard */*.h devices/virtio/*.h tests/guest/*.c tests/guest/*.h)
lint:
	clang-format --dry-run --Werror $(LINT_SRCS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -I. -D_GNU_SOURCE $(FLINT_SRCS) $(JAIL_SRCS)
	clang-tidy --quiet $(FLINT_SRCS) $(JAIL_SRCS) tools/seccomp_gen.c -- $(filter-out -MMD -MP,$(BASE))

install-deps:
	resources/install-deps.sh

clean:
	rm -rf $(BUILD)
	$(MAKE) -C tests/guest clean BUILD=$(abspath $(BUILD))/guest

# flint is linked statically, as Firecracker is: inside a jail there is no
# dynamic loader.
-include $(REL_OBJS:.o=.d) $(SAN_OBJS:.o=.d)
-include $(JAIL_SRCS:%.c=$(BUILD)/rel/%.d) $(JAIL_SRCS:%.c=$(BUILD)/san/%.d)
-include $(FUZZ_OBJS:.o=.d)
