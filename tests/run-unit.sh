#!/usr/bin/env bash
# Run every cmocka unit-test binary given; print one summary line.
set -u
passed=0
failed=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	fl=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then
		fl=1 # crashed or a sanitizer fired
	fi
	if [ "$fl" -ne 0 ]; then
		printf '%s\n' "$out"
		echo "FAIL: $t"
	else
		echo "ok:   $(basename "$t") ($p tests)"
	fi
	passed=$((passed + p))
	failed=$((failed + fl))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
