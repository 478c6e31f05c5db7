#!/usr/bin/env bash
# make bench: build the probe, then run every benchmark against BUILD_DIR.
# Each prints a Markdown table of flint beside QEMU microvm.
set -eu
build=$1
shift || true
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/bench"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -o "$build/bench/probe.so" "$here/probe.c" -ldl
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$build/bench/exec_floor" "$here/exec_floor.c"
echo "## Boot and VMM start-up (bench/bench.py)"
/usr/bin/python3 "$here/bench.py" "$build" "$@"
for b in api net vsock block snapshot seccomp jailer; do
	script="$here/bench_$b.py"
	[ -f "$script" ] || continue
	echo
	echo "## bench_$b.py"
	/usr/bin/python3 "$script" "$build" || echo "bench_$b.py failed (status $?)"
done
