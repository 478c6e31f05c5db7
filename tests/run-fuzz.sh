#!/usr/bin/env bash
# Run each libFuzzer target for a bounded time from its seed corpus.
set -u
seconds=$1
shift
rc=0
for t in "$@"; do
	name=$(basename "$t")
	corpus=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	if "$t" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
		echo "ok:   $name fuzzed for ${seconds}s ($(grep -c '' "$work.log") log lines)"
	else
		tail -40 "$work.log"
		echo "FAIL: $name (crash input kept in $(pwd))"
		rc=1
	fi
	rm -rf "$work" "$work.log"
done
exit $rc
