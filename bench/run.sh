#!/usr/bin/env bash
# make bench: build the probe, then run bench.py against BUILD_DIR.
set -eu
build=$1
shift || true
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/bench"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -o "$build/bench/probe.so" "$here/probe.c" -ldl
exec /usr/bin/python3 "$here/bench.py" "$build" "$@"
