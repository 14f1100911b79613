#!/bin/sh
# Checks that the man pages in man/ name every option `jobmatchd --help`
# lists, every command and option `jobmatch help` lists and every option
# `jobmatch-kiosk --help` lists, so that they stay complete as options are
# added. Usage: check-man.sh JOBMATCHD JOBMATCH [JOBMATCH_KIOSK]
set -eu
here=$(dirname "$0")/..
status=0
check() {  # check PAGE HELP-TEXT
  page=$(sed 's/\\-/-/g' "$here/man/$1")
  for word in $(printf '%s\n' "$2" | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    printf '%s\n' "$page" | grep -qE -- "$word([^a-z-]|$)" ||
      { echo "man/$1 does not mention $word"; status=1; }
  done
}
check jobmatchd.8 "$("$1" --help)"
check jobmatch.1 "$("$2" help)"
[ $# -lt 3 ] || check jobmatch-kiosk.1 "$("$3" --help)"
for cmd in $("$2" help | grep -oE '^  [a-z][a-z-]+' | sort -u); do
  sed 's/\\-/-/g' "$here/man/jobmatch.1" | grep -qE "^\.(B|BR|BI) \"?$cmd( |\"|$)" ||
    { echo "man/jobmatch.1 does not describe the command $cmd"; status=1; }
done
exit $status
