#!/bin/sh
# Starts jobmatch-kiosk under valgrind's memcheck, for its integration test
# (scripts/valgrind-tests.sh points JOBMATCH_KIOSK here). Any memcheck
# error makes the kiosk exit 99, and the test checks its exit status.
exec valgrind -q --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  "$JM_REAL_KIOSK" "$@"
