#!/bin/sh
# Runs every test once under valgrind's memcheck: the unit tests directly,
# and for the integration tests the daemon they start (through
# valgrind-jobmatchd.sh) and the kiosk (valgrind-kiosk.sh). Usage: scripts/valgrind-tests.sh BUILD_DIR
# (a build without sanitizers). Any memcheck error fails the run.
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
export JM_REAL_JOBMATCHD="$build/jobmatchd"
export JOBMATCHD="$root/scripts/valgrind-jobmatchd.sh"
export JOBMATCH_CLI="$build/jobmatch"
export JM_REAL_KIOSK="$build/jobmatch-kiosk"
export JOBMATCH_KIOSK="$root/scripts/valgrind-kiosk.sh"
export JOBMATCH_SOURCE="$root"
# The randomized matching test is sized for native speed.
export JM_MATCH_SCALE=0.2
passed=0
failed=0
for t in "$build"/*_test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  case $name in
    integration_*) "$t" --jobs 1 >"$build/$name.valgrind.log" 2>&1 ;;
    # Criterion runs each test in a process of its own, started by exec:
    # memcheck must follow it there.
    *) valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full \
         --errors-for-leak-kinds=definite --show-leak-kinds=definite \
         "$t" --jobs 1 >"$build/$name.valgrind.log" 2>&1 ;;
  esac
  if [ $? -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "valgrind: $name failed; its output:"
    cat "$build/$name.valgrind.log"
  fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
