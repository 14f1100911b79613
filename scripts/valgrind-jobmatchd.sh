#!/bin/sh
# Starts the daemon under valgrind's memcheck, for the integration tests
# (scripts/valgrind-tests.sh points JOBMATCHD here). Any memcheck error
# makes the daemon exit 99, and the tests check that it exits 0.
exec valgrind -q --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  "$JM_REAL_JOBMATCHD" "$@"
