#!/bin/sh
# Runs the tests once under valgrind's memcheck: the unit tests directly,
# and for the integration tests the daemon they start (through
# valgrind-jobmatchd.sh) and the kiosk (valgrind-kiosk.sh). Usage:
# scripts/valgrind-tests.sh BUILD_DIR [JOBS] (a build without sanitizers;
# JOBS tests at a time, default 2). Any memcheck error fails the run.
#
# Memcheck finds what AddressSanitizer cannot (reads of uninitialised
# memory), at many times the cost, so it runs over the code that handles
# memory and not over what only drives it: the tests of the command-line
# client (cli, shell, export) are left out. The client runs natively there
# in any case, and the daemon's side of what it sends is run under memcheck
# by the records, match, referrals, fair, stats and suggest tests. Every
# unit test, every other integration test and the replay of the fuzz seeds
# against the daemon (integration_test_fuzz_seeds) run here.
root=$(cd "$(dirname "$0")/.." && pwd)

if [ "$1" = --one ]; then
  t=$2
  name=$(basename "$t")
  case $name in
    integration_*) "$t" --jobs 1 >"$t.valgrind.log" 2>&1 ;;
    # Criterion runs each test in a process of its own, started by exec:
    # memcheck must follow it there.
    *) valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full \
         --errors-for-leak-kinds=definite --show-leak-kinds=definite \
         "$t" --jobs 1 >"$t.valgrind.log" 2>&1 ;;
  esac
  rc=$?
  echo "$rc" >"$t.valgrind.rc"
  exit 0
fi

build=$(cd "$1" && pwd)
jobs=${2:-2}
export JM_REAL_JOBMATCHD="$build/jobmatchd"
export JOBMATCHD="$root/scripts/valgrind-jobmatchd.sh"
export JOBMATCH_CLI="$build/jobmatch"
export JM_REAL_KIOSK="$build/jobmatch-kiosk"
export JOBMATCH_KIOSK="$root/scripts/valgrind-kiosk.sh"
export JOBMATCH_SOURCE="$root"
# The randomized matching test is sized for native speed.
export JM_MATCH_SCALE=0.2

tests=""
for t in "$build"/*_test_*; do
  [ -x "$t" ] || continue
  case $(basename "$t") in
    *.valgrind.*) continue ;;
    integration_test_cli | integration_test_shell | integration_test_export) continue ;;
  esac
  rm -f "$t.valgrind.rc"
  tests="$tests $t"
done
# The slowest first, so that the last ones to start are short.
first="integration_test_match integration_test_sealed integration_test_limits
       integration_test_network integration_test_hostile integration_test_drain"
ordered=""
for f in $first; do
  case " $tests " in *" $build/$f "*) ordered="$ordered $build/$f" ;; esac
done
for t in $tests; do
  case " $ordered " in *" $t "*) ;; *) ordered="$ordered $t" ;; esac
done

printf '%s\n' $ordered | xargs -P "$jobs" -n 1 "$0" --one

passed=0
failed=0
for t in $ordered; do
  name=$(basename "$t")
  if [ "$(cat "$t.valgrind.rc" 2>/dev/null)" = 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "valgrind: $name failed; its output:"
    cat "$t.valgrind.log"
  fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
