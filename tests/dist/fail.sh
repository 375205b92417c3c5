#!/bin/sh
# fail.sh MODE NP COMM_MPI - a rank that fails mid-allreduce (comm_mpi.c):
#   timeout  the last rank is silent: the other ranks fail after
#            SAMC_DIST_TIMEOUT=1 s, naming it, and exit 1
#   kill     the last rank is SIGKILLed: mpirun ends the others with SIGTERM
#            (SIGKILL 1 s later); they print the cause and exit 1 first
# SAMC_MPIRUN is the launcher with its flags (tests/dist/tests.cmake).
# Each rank runs under a shell that ignores SIGTERM (comm_mpi catches it
# itself), records the rank's exit status and ends as the rank did (a
# rank killed by a signal ends its shell with SIGKILL, as mpirun must see).
set -u
mode=$1 np=$2 prog=$3
: "${SAMC_MPIRUN:?set by tests/dist/tests.cmake}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s)
# kill: the default timeout (300 s), so that only SIGTERM can end the wait
timeout=1
[ "$mode" = kill ] && timeout=300
SAMC_DIST_TIMEOUT=$timeout $SAMC_MPIRUN -np "$np" sh -c \
  'trap "" TERM; "$0" "$1"; st=$?; echo "rank $OMPI_COMM_WORLD_RANK exit $st" >> "$2/exits"
   [ "$st" -gt 128 ] && kill -s KILL $$; exit "$st"' \
  "$prog" "$mode" "$dir" > "$dir/log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
cat "$dir/log"
echo "--- mpirun: exit $rc after ${took} s; the ranks:"
cat "$dir/exits" 2>/dev/null
fail=0
if [ "$rc" -eq 0 ]; then
  echo "FAIL: mpirun exited 0"; fail=1
fi
last=$((np - 1))
r=0
told=0
while [ "$r" -lt "$last" ]; do
  if [ "$mode" = kill ]; then
    want="samc: rank $r: comm: rank $r: allreduce of 1000 f64: stopped by SIGTERM while waiting for the other ranks: under mpirun this means another rank ended"
  else
    want="comm_mpi: rank $r: expected: comm: rank $r: allreduce of 1000 f64: rank $last stopped answering (no message for 1 s"
  fi
  # the first survivor to exit 1 ends the job: mpirun kills the others at
  # once, and a second survivor (3 ranks) may die before it prints or its
  # shell records its status. A survivor whose status was recorded must
  # have printed its message and exited 1; one of them at least did.
  st=$(sed -n "s/^rank $r exit //p" "$dir/exits" 2>/dev/null)
  if [ -n "$st" ]; then
    if ! grep -qF "$want" "$dir/log"; then
      echo "FAIL: rank $r did not print: $want"; fail=1
    fi
    if [ "$st" != 1 ]; then
      echo "FAIL: rank $r exited $st, not 1"; fail=1
    fi
    told=$((told + 1))
  fi
  r=$((r + 1))
done
if [ "$told" -eq 0 ]; then
  echo "FAIL: no surviving rank printed its message and exited 1"; fail=1
fi
# a run that hangs is the failure this guards against: 10 s is generous
# for 1 s of timeout and mpirun's 1 s between SIGTERM and SIGKILL
limit=$((10 * ${SAMC_TEST_TIME_SCALE:-1}))
if [ "$took" -gt "$limit" ]; then
  echo "FAIL: took $took s (limit $limit)"; fail=1
fi
[ "$fail" -eq 0 ] && echo "ok"
exit "$fail"
