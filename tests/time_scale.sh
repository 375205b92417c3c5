# time_scale.sh - sourced by the shell tests: `scaled SECONDS` prints a time
# limit of SECONDS multiplied by SAMC_TEST_TIME_SCALE (the build's factor,
# set by tests/CMakeLists.txt: sanitizers and Debug builds are slower) and
# by the machine's load per core when it is above 1, rounded up.
scaled() {
	awk -v s="$1" -v k="${SAMC_TEST_TIME_SCALE:-1}" -v n="$(nproc 2>/dev/null || echo 1)" \
	    -v l="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)" \
	    'BEGIN { f = l / n; if (f < 1) f = 1; t = s * k * f; printf "%d\n", (t == int(t)) ? t : int(t) + 1 }'
}
