#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds the libFuzzer targets of tests/fuzz with clang
# (ASan + UBSan, in $FUZZ_BUILD_DIR, default build-fuzz) and runs each for
# SECONDS (default 60), one after the other, from its seed corpus with its
# dictionary. Prints executions and coverage (libFuzzer's cov and ft) per
# target; exits non-zero on any crash, leak, timeout or out-of-memory.
# Inputs that fail are saved in $FUZZ_BUILD_DIR/fuzz-run/<target>/crashes/
# (replay one: $FUZZ_BUILD_DIR/fuzz/<target> FILE); new inputs found go to
# .../<target>/corpus/, which the next run starts from.
# FUZZ_TARGETS="fuzz_csv fuzz_npy" runs only those.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
DIR=${FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=${FUZZ_TARGETS:-fuzz_model fuzz_safetensors fuzz_ckpt fuzz_idx fuzz_csv fuzz_cifar fuzz_npy fuzz_set}

CC=${FUZZ_CC:-clang} cmake -S . -B "$DIR" -DSAMC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>/dev/null
cmake --build "$DIR" --target fuzz_all -j"$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
report=""
for t in $TARGETS; do
	run="$DIR/fuzz-run/$t"
	mkdir -p "$run/corpus" "$run/crashes"
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	echo "== $t: ${SECONDS_EACH}s (log: $run/log)"
	rc=0
	# new inputs go to the first directory (the run's), seeds are read from the second
	"$DIR/fuzz/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 -artifact_prefix="$run/crashes/" "${dict[@]}" \
		"$run/corpus" "tests/fuzz/corpus/$t" >"$run/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$run/log" | tail -1 || true)
	status=ok
	if [ "$rc" -ne 0 ]; then
		status="FAILED (exit $rc): $(grep -m1 -o 'ERROR: [A-Za-z]*: [^(]*\|ERROR: libFuzzer: [a-z-]*' "$run/log" || echo see log), inputs in $run/crashes/"
		failed=1
		tail -40 "$run/log"
	fi
	line=$(printf '%-18s %12s execs  %-22s %s' "$t" "${execs:-?}" "${cov:-cov: ?}" "$status")
	echo "$line"
	report+="$line"$'\n'
done
echo
echo "== fuzz.sh: ${SECONDS_EACH}s per target"
printf '%s' "$report"
exit $failed
