#!/bin/sh
# run.sh - the bad-input corpus: every *.lua here must make
# `samc emit --stage=ir` fail with exit status 1 within 5 seconds (scaled by
# the build and the machine's load: tests/time_scale.sh), printing
# the expected message on stderr. The expected text is the first line's
# "-- expect: ..." comment or, for files that cannot carry one (binary
# chunks), a sibling NAME.expect file. A "-- args: ..." line in the first
# lines adds command-line arguments (e.g. --set overrides).
# usage: run.sh SAMC [DIR]
set -u
samc=$1
dir=${2:-$(dirname "$0")}
. "$(dirname "$0")/../time_scale.sh"
limit=$(scaled 5)
cd "$dir" || exit 1
# several builds may run this corpus at once: private scratch file
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
fail=0
count=0
for f in *.lua; do
	count=$((count + 1))
	base=${f%.lua}
	if [ -f "$base.expect" ]; then
		expect=$(head -n 1 "$base.expect")
	else
		expect=$(head -n 1 "$f" | sed -n 's/^-- expect: //p')
	fi
	if [ -z "$expect" ]; then
		echo "FAIL $f: no '-- expect:' line and no $base.expect file"
		fail=$((fail + 1))
		continue
	fi
	args=$(head -n 5 "$f" | sed -n 's/^-- args: //p')
	# shellcheck disable=SC2086 # args are split on purpose
	timeout "$limit" "$samc" emit --stage=ir $args "$f" >/dev/null 2>"$tmp"
	rc=$?
	msg=$(cat "$tmp")
	if [ "$rc" -eq 124 ]; then
		echo "FAIL $f: still running after $limit s"
		fail=$((fail + 1))
	elif [ "$rc" -ne 1 ]; then
		echo "FAIL $f: exit status $rc, expected 1; stderr: $msg"
		fail=$((fail + 1))
	elif ! printf '%s\n' "$msg" | grep -qF -- "$expect"; then
		echo "FAIL $f: stderr lacks the expected message"
		echo "  expected: $expect"
		echo "  got:      $msg"
		fail=$((fail + 1))
	else
		echo "ok   $f"
	fi
done
echo "$((count - fail)) of $count bad inputs rejected as expected"
[ "$fail" -eq 0 ]
