#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets whose inputs are structured
(tests/fuzz/corpus/fuzz_{mmio,args,legacy,kernel,vsock}/). Run from the repo root; the
layouts mirror the structs in the targets' sources."""
import os
import struct

CORPUS = "tests/fuzz/corpus"


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- fuzz_mmio: struct fz_op {u8 kind, u8 reg, u16 aux, u32 val} ---
WRITE, SNAPSHOT, READ, TURN, NOTIFY, POKE, BRINGUP, RESET = 0, 1, 2, 3, 4, 5, 6, 7
R_STATUS, R_NOTIFY, R_ISR, R_ACK, R_CONFIG = 15, 12, 13, 14, 23
REGS = 28  # entries of fz_regs[]


def op(act, dev=0, size=4, reg=0, aux=0, val=0, reduce=False):
    kind = act | ({1: 0, 2: 1, 4: 2, 8: 3}[size] << 3) | (0x20 if reduce else 0) | (dev << 6)
    return struct.pack("<BBHI", kind, reg, aux, val)


def mmio_input(ops, ram):
    return bytes([len(ops)]) + b"".join(ops) + ram


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def blk_ram(req_type, sector, data_len, data_flags):
    """Queue of 8 at 0x0 (desc), 0x100 (avail), 0x200 (used); one request:
    header 0x300, data 0x400, status 0x600."""
    ram = bytearray(0x700)
    d = desc(0x300, 16, 1, 1) + desc(0x400, data_len, 1 | data_flags, 2) + desc(0x600, 1, 2, 0)
    ram[0:len(d)] = d
    ram[0x100:0x106] = struct.pack("<HHH", 0, 1, 0)
    ram[0x300:0x310] = struct.pack("<IIQ", req_type, 0, sector)
    ram[0x400:0x600] = bytes(range(256)) * 2
    return bytes(ram)


BRING = (3 << 24) | (0x02 << 16) | (0x01 << 8)  # 8 entries, rings as blk_ram
FEAT = 0x3204  # SEG_MAX, FLUSH, INDIRECT_DESC, EVENT_IDX (when offered)


def mmio_seeds():
    for dev, name, t, flags in ((1, "blk_in", 0, 2), (2, "blk_async_out", 1, 0),
                                (3, "blk_ro_out", 1, 0), (1, "blk_get_id", 8, 2),
                                (2, "blk_async_flush", 4, 0)):
        ops = [op(BRINGUP, dev, aux=FEAT, val=BRING),
               op(WRITE, dev, reg=R_NOTIFY, val=0),
               op(TURN), op(TURN),
               op(READ, dev, reg=R_ISR),
               op(WRITE, dev, reg=R_ACK, val=1),
               op(READ, dev, size=8, reg=R_CONFIG),
               op(POKE, dev, size=2, aux=0x102, val=2),
               op(NOTIFY, dev),
               op(SNAPSHOT, dev),
               op(WRITE, dev, reg=R_STATUS, val=0),
               op(SNAPSHOT, dev),
               op(RESET, dev)]
        put("fuzz_mmio", name, mmio_input(ops, blk_ram(t, 1, 512, flags)))
    ram = bytearray(0x700)
    ram[0:16] = desc(0x400, 64, 2, 0)
    ram[0x100:0x106] = struct.pack("<HHH", 0, 1, 0)
    ops = [op(BRINGUP, 0, aux=FEAT, val=BRING), op(NOTIFY, 0), op(READ, 0, reg=R_ISR),
           op(POKE, 0, size=2, aux=0x102, val=2), op(WRITE, 0, reg=R_NOTIFY), op(TURN),
           op(RESET, 0, val=1), op(READ, 0, reg=R_STATUS)]
    put("fuzz_mmio", "rng", mmio_input(ops, bytes(ram)))
    ops = [op(READ, d, size=s, reg=r) for d in (0, 1) for s in (1, 4, 8)
           for r in range(0, REGS, 3)]
    put("fuzz_mmio", "reads", mmio_input(ops[:255], b""))
    # The init sequence register by register, addresses reduced into RAM.
    seq = [(R_STATUS, 1), (R_STATUS, 3), (7, 1), (6, 1), (7, 0), (6, 0x30000000), (R_STATUS, 11),
           (8, 0), (10, 8), (16, 0), (18, 0x100), (20, 0x200), (11, 1), (R_STATUS, 15)]
    ops = [op(WRITE, 1, reg=r, val=v, reduce=r in (16, 18, 20)) for r, v in seq]
    ops += [op(TURN), op(WRITE, 1, reg=R_NOTIFY), op(TURN), op(WRITE, 1, reg=R_STATUS, val=0),
            op(TURN)]
    put("fuzz_mmio", "manual_init", mmio_input(ops, blk_ram(0, 0, 512, 2)))


# --- fuzz_args: mode byte (0 flint, 1 jailer, 2 /proc text + jailer) ---
def argv(*args):
    return b"\0".join(a.encode() for a in args)


def args_seeds():
    flint = {
        "flint_api": ("--api-sock", "/tmp/f.sock", "--id", "vm-1", "--level=Debug",
                      "--show-level", "--http-api-max-payload-size", "65536"),
        "flint_config": ("--no-api", "--config-file", "vm.json", "--boot-timer",
                         "--boot-protocol=linux", "--start-time-us", "12",
                         "--start-time-cpu-us=3", "--parent-cpu-time-us", "4"),
        "flint_bad": ("--id", "bad id!", "--http-api-max-payload-size=-1", "stray"),
        "flint_help": ("--help", "--version", "--no-seccomp", "--seccomp-filter", "f.bpf",
                       "--describe-snapshot", "s.snap", "--kvm-path=/dev/kvm",
                       "--metrics-path", "m", "--log-path", "l", "--module", "api"),
    }
    for name, a in flint.items():
        put("fuzz_args", name, b"\0" + argv(*a))
    base = ("--id", "vm-1", "--exec-file", "/bin/true", "--uid", "123", "--gid=456")
    jailer = {
        "jail_min": base + ("--chroot-base-dir", "/tmp"),
        "jail_full": base + ("--chroot-base-dir=/tmp", "--cgroup-version", "2",
                             "--cgroup", "cpu.max=50000 100000", "--cgroup=memory.max=1G",
                             "--parent-cgroup", "a/b", "--resource-limit", "fsize=1024",
                             "--resource-limit=no-file=64", "--daemonize", "--new-pid-ns",
                             "--netns", "/var/run/netns/x", "--", "--level", "Debug"),
        "jail_bad": ("--id", "x/../y", "--cgroup", "../cpu.max=1", "--uid", "4294967295",
                     "--parent-cgroup", "/abs", "--resource-limit", "core=1"),
        "jail_help": ("--help",),
    }
    for name, a in jailer.items():
        put("fuzz_args", name, b"\1" + argv(*a))
    mounts = ("cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec 0 0\n"
              "cgroup /sys/fs/cgroup/cpu\\040x cgroup rw,cpu,cpuacct 0 0\n"
              "cgroup /sys/fs/cgroup/devices cgroup rw,devices 0 0\n")
    self_cg = "0::/user.slice\n4:cpu,cpuacct:/x\n3:devices:/\n"
    misc = "242 kvm\n 57 userfaultfd\n"
    for ver in ("1", "2"):
        a = base + ("--cgroup-version", ver, "--cgroup", "cpu.shares=2" if ver == "1" else "hugetlb.2MB.max=0",
                    "--parent-cgroup", "p")
        put("fuzz_args", "proc_v" + ver,
            b"\2" + b"\0".join(t.encode() for t in (mounts, self_cg, misc)) + b"\0" + argv(*a))


# --- fuzz_legacy: struct fz_hdr (120 bytes), then struct fz_op {u8 kind,
# u8 port, u16 val}; port = base index << 4 | offset ---
OUT, IN, INPUT, TICK, CAD, SNAP, RELOAD = 0, 2, 3, 4, 5, 6, 7
COM1, KBD, KBD_CMD = 0x00, 0x40, 0x70


def lop(act, port=0, val=0, size=1):
    return struct.pack("<BBH", act | ({1: 0, 2: 1, 4: 2}[size] << 3), port, val)


def legacy_hdr(flags=0, rl=(0, 0, 0), regs=bytes(16), fifo=bytes(72), kbd=bytes(24)):
    h = struct.pack("<BBHHH", flags, 0, *rl) + regs + fifo + kbd
    assert len(h) == 120
    return h


def legacy_seeds():
    # Linux's 8250 probe and console set-up, then output and input.
    probe = [lop(OUT, COM1 | 3, 0x00), lop(OUT, COM1 | 1, 0x00), lop(OUT, COM1 | 7, 0x55),
             lop(IN, COM1 | 7), lop(OUT, COM1 | 4, 0x10), lop(IN, COM1 | 6),
             lop(OUT, COM1 | 4, 0x1f), lop(IN, COM1 | 6), lop(OUT, COM1 | 4, 0x00),
             lop(OUT, COM1 | 2, 0xc7), lop(IN, COM1 | 2), lop(OUT, COM1 | 3, 0x80),
             lop(OUT, COM1 | 0, 0x01), lop(OUT, COM1 | 1, 0x00), lop(OUT, COM1 | 3, 0x03),
             lop(OUT, COM1 | 4, 0x0b), lop(OUT, COM1 | 1, 0x03), lop(IN, COM1 | 2)]
    probe += [lop(OUT, COM1, c) for c in b"hello\n"] + [lop(IN, COM1 | 5), lop(IN, COM1 | 2)]
    probe += [lop(INPUT, 0, 0x4061), lop(IN, COM1 | 5), lop(IN, COM1 | 2)]
    probe += [lop(IN, COM1) for _ in range(66)] + [lop(SNAP), lop(IN, COM1 | 5, size=4)]
    put("fuzz_legacy", "uart_probe", legacy_hdr() + b"".join(probe))
    # The same output through a small rate limit, the clock moving.
    rl = [lop(OUT, COM1 | 1, 0x02)] + [lop(OUT, COM1, 0x41 + i) for i in range(20)]
    rl += [lop(TICK, 0, 200)] + [lop(OUT, COM1, 0x61 + i) for i in range(10)]
    put("fuzz_legacy", "uart_rate", legacy_hdr(1, (4, 2, 10)) + b"".join(rl))
    # Linux's i8042 probe, a keyboard reset, Ctrl-Alt-Del and reboot=k.
    k = [lop(IN, KBD_CMD), lop(OUT, KBD_CMD, 0x20), lop(IN, KBD_CMD), lop(IN, KBD),
         lop(OUT, KBD_CMD, 0x60), lop(OUT, KBD, 0x47), lop(OUT, KBD_CMD, 0xaa), lop(IN, KBD),
         lop(OUT, KBD_CMD, 0xab), lop(IN, KBD), lop(OUT, KBD_CMD, 0xa7),
         lop(OUT, KBD_CMD, 0xa8), lop(OUT, KBD_CMD, 0xd4), lop(OUT, KBD, 0xf2),
         lop(OUT, KBD, 0xff), lop(IN, KBD), lop(IN, KBD), lop(OUT, KBD, 0xf2), lop(IN, KBD),
         lop(OUT, KBD, 0xee), lop(IN, KBD), lop(OUT, KBD_CMD, 0xd1), lop(OUT, KBD, 0x01),
         lop(CAD), lop(CAD), lop(SNAP), lop(IN, KBD_CMD)] + [lop(IN, KBD) for _ in range(8)]
    k += [lop(OUT, KBD_CMD, 0xfe)]
    put("fuzz_legacy", "i8042", legacy_hdr() + b"".join(k))
    # The sinks around them, every width.
    sinks = [lop(a, (b << 4) | o, 0xffff, s) for b in range(8, 16) for o in (0, 3, 7, 8)
             for a, s in ((IN, 1), (OUT, 2), (IN, 4))]
    put("fuzz_legacy", "sinks", legacy_hdr(4) + b"".join(sinks))
    # A made-up snapshot state (FIFO of 3 bytes, i8042 with one byte).
    regs = bytes([0x03, 0xc0, 0x03, 0x0b, 0, 0xb0, 0x55, 0x01, 0, 1]) + bytes(6)
    fifo = struct.pack("<II", 3, 0) + b"abc" + bytes(61)
    kbd = bytes([0x47, 0, 0, 1, 0, 0, 0, 0, 0xfa]) + bytes(15)
    st = [lop(IN, COM1 | 5), lop(IN, COM1), lop(RELOAD), lop(IN, KBD), lop(IN, COM1 | 2)]
    put("fuzz_legacy", "restore", legacy_hdr(2, regs=regs, fifo=fifo, kbd=kbd) + b"".join(st))


# --- fuzz_kernel: small but valid kernels, so mutations start inside the
# loaders (from random bytes alone libFuzzer rarely gets past the magic) ---
HIMEM = 0x100000


def elf_kernel(pvh=True, segments=1):
    """ELF64 x86_64 executable: PT_LOADs of 16 file bytes and 32 memory bytes
    at 1 MiB (+ 4 KiB each), and with pvh a PT_NOTE holding the Xen
    PHYS32_ENTRY note (type 18, name "Xen")."""
    nph = segments + (1 if pvh else 0)
    phoff, ehsize, phsize = 64, 64, 56
    data_off = phoff + nph * phsize
    note = struct.pack("<III", 4, 4, 18) + b"Xen\0" + struct.pack("<I", HIMEM)
    payload_off = data_off + (len(note) if pvh else 0)
    eh = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) +
          struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, HIMEM, phoff, 0, 0, ehsize, phsize, nph, 64,
                      0, 0))
    phs = b""
    for i in range(segments):
        phs += struct.pack("<IIQQQQQQ", 1, 7, payload_off + 16 * i, HIMEM + 0x1000 * i,
                           HIMEM + 0x1000 * i, 16, 32, 0x1000)
    if pvh:
        phs += struct.pack("<IIQQQQQQ", 4, 4, data_off, 0, 0, len(note), len(note), 4)
    body = (note if pvh else b"") + bytes(range(16)) * segments
    return eh + phs + body


def bz_kernel(setup_sects=1, version=0x020F, init_size=0x10000):
    """bzImage: boot sector + setup_sects sectors of setup, then a 1 KiB
    "protected-mode kernel". The setup header at 0x1f1 has what the loader
    checks: 0xAA55, "HdrS", the version, LOADED_HIGH, XLF_KERNEL_64."""
    img = bytearray(512 * (setup_sects + 1) + 1024)
    img[0x1F1] = setup_sects
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = bytes([0xEB, 0x66])  # jmp short past the header
    struct.pack_into("<IH", img, 0x202, 0x53726448, version)
    img[0x211] = 0x01  # loadflags: LOADED_HIGH
    struct.pack_into("<IBB", img, 0x230, 0x200000, 1, 0)  # kernel_alignment, relocatable
    struct.pack_into("<H", img, 0x236, 0x1)  # xloadflags: XLF_KERNEL_64
    struct.pack_into("<I", img, 0x238, 2047)  # cmdline_size
    struct.pack_into("<QI", img, 0x258, 0x1000000, init_size)  # pref_address, init_size
    return bytes(img)


def kernel_seeds():
    put("fuzz_kernel", "elf_pvh", elf_kernel())
    put("fuzz_kernel", "elf_plain", elf_kernel(pvh=False))
    put("fuzz_kernel", "elf_two_segments", elf_kernel(segments=2))
    put("fuzz_kernel", "bzimage", bz_kernel())
    put("fuzz_kernel", "bzimage_4_sects", bz_kernel(setup_sects=4))
    put("fuzz_kernel", "bzimage_old", bz_kernel(version=0x020A))


# --- fuzz_vsock: scripts of ops (see the target); connections that get
# established and carry data, so mutations start past the handshake ---
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)
V_ADDRESSED = 1 | 2 | 4 | 8 | 16  # guest cid, host cid, stream, op, ports
V_TO_LISTENER = 32  # dst: the host listener, else host program (bits 6-7) % 3
V_LEN = 128  # len = the payload that follows


def vpkt(op, flags=V_ADDRESSED | 64, payload=b"", buf_alloc=65536, fwd_cnt=0, vflags=0):
    """A guest packet op; flags 64|128 pick host program 0 (3 % 3)."""
    hdr = struct.pack("<QQIIIHHIII", 3, 2, 52, 0, len(payload), 1, op - 1, vflags, buf_alloc,
                      fwd_cnt)
    if payload:
        flags |= V_LEN | 64
    return bytes([0, flags]) + hdr + payload


def vtake(room=255):
    return bytes([2, room])


def vhost(op, host=0, n=8):
    return bytes([{"read": 3, "close": 4, "event": 5, "write": 7}[op], host, n])


def vsock_seeds():
    host_conn = (vtake() + vpkt(RESPONSE) + vpkt(RW, payload=b"guest says hello" * 8) +
                 vhost("read") + vhost("write", n=8) + vhost("event", host=1, n=0) + vtake() +
                 vpkt(CREDIT_UPDATE, fwd_cnt=256) + vpkt(CREDIT_REQUEST) + vtake())
    put("fuzz_vsock", "host_conn_data", host_conn)
    put("fuzz_vsock", "host_conn_shutdown",
        host_conn + vpkt(SHUTDOWN, vflags=3) + bytes([6]) + vtake() + vpkt(RST))
    put("fuzz_vsock", "host_conn_closed",
        vtake() + vpkt(RESPONSE) + vhost("close") + vhost("event", host=1, n=2) + vtake() +
        vtake())
    guest_conn = vpkt(REQUEST, flags=V_ADDRESSED | V_TO_LISTENER)
    put("fuzz_vsock", "guest_conn",
        guest_conn + vtake() + vpkt(RW, flags=V_ADDRESSED | V_TO_LISTENER,
                                    payload=bytes(range(200))) + bytes([6]) + vtake() +
        vpkt(SHUTDOWN, flags=V_ADDRESSED | V_TO_LISTENER, vflags=1) + vtake())


if __name__ == "__main__":
    mmio_seeds()
    args_seeds()
    legacy_seeds()
    kernel_seeds()
    vsock_seeds()
