#!/usr/bin/env bash
# make test's driver: unit tests (ASan+UBSan), bounded fuzzing, then the
# integration suite booting real guests with the sanitized flint. The last
# line is the combined "N passed, N failed" summary.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
total_pass=0
total_fail=0

count() { # $1: "N passed, M failed" line
	local p f
	p=$(printf '%s' "$1" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
	f=$(printf '%s' "$1" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
}

echo "== unit tests"
unit_bins=$(find "$BUILD"/san/tests -maxdepth 1 -name 'test_*' -type f -perm -u+x | sort)
# shellcheck disable=SC2086
unit_line=$(tests/run-unit.sh $unit_bins | tee /dev/stderr | tail -1)
count "$unit_line"

echo "== fuzzing (${FUZZ_SECONDS:-20}s per target)"
if make -s fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-20}"; then
	total_pass=$((total_pass + 1))
else
	total_fail=$((total_fail + 1))
fi

echo "== integration tests"
log=$(mktemp)
FLINT_BIN=$(pwd)/$BUILD/san/flint FLINT_JAILER_BIN=$(pwd)/$BUILD/flint-jailer \
	FLINT_JAILER_SAN_BIN=$(pwd)/$BUILD/san/flint-jailer FLINT_JAILED_BIN=$(pwd)/$BUILD/flint \
	FLINT_GUEST_DIR=$(pwd)/$BUILD/guest \
	"$PYTHON" -m pytest -q -rs tests/integration 2>&1 | tee "$log"
py_line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1)
py_pass=$(printf '%s' "$py_line" | sed -n 's/.*\b\([0-9]\+\) passed.*/\1/p')
py_fail=$(printf '%s' "$py_line" | sed -n 's/.*\b\([0-9]\+\) failed.*/\1/p')
py_err=$(printf '%s' "$py_line" | sed -n 's/.*\b\([0-9]\+\) error.*/\1/p')
py_skip=$(printf '%s' "$py_line" | sed -n 's/.*\b\([0-9]\+\) skipped.*/\1/p')
[ -n "$py_line" ] || py_err=1
total_pass=$((total_pass + ${py_pass:-0}))
total_fail=$((total_fail + ${py_fail:-0} + ${py_err:-0}))
rm -f "$log"

echo "$total_pass passed, $total_fail failed, ${py_skip:-0} skipped"
[ "$total_fail" -eq 0 ]
