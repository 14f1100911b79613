#!/usr/bin/env bash
# run.sh - starts jobmatchd in the foreground for `make run`.
#
# Usage: ./scripts/run.sh BUILD_DIR
#
# On the first start (no $JOBMATCH_DATA/data.mdb yet) it generates a demo
# data set with jmgen, loads it through a temporary daemon on a free
# loopback port, and stops that daemon; then it replaces itself with the
# real daemon. Settings come from the environment:
#   JOBMATCH_LISTEN     address to listen on (default 127.0.0.1:7411)
#   JOBMATCH_DATA       data directory (default ./var)
#   JOBMATCH_ADMIN_KEY  admin key; when unset the daemon creates one on the
#                       first start in $JOBMATCH_DATA/admin.key
#   JOBMATCH_SECRET_KEY_FILE
#                       the key that seals personal fields at rest (default
#                       $JOBMATCH_DATA.secret.key, beside the data directory,
#                       never inside it); created when absent
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
listen=${JOBMATCH_LISTEN:-127.0.0.1:7411}
data=${JOBMATCH_DATA:-./var}

secret=${JOBMATCH_SECRET_KEY_FILE:-${data%/}.secret.key}

daemon=$build/jobmatchd
cli=$build/jobmatch
gen=$build/jmgen
for exe in "$daemon" "$cli" "$gen"; do
  if [ ! -x "$exe" ]; then
    echo "run.sh: $exe is missing; build first (make build)" >&2
    exit 1
  fi
done

# The CLI authenticates with the key the daemon will use: the one given in
# the environment, or else the file the daemon writes on its first start.
key_args=(-K "$data/admin.key")
key_hint="-K $data/admin.key"
key_where="in $data/admin.key"
if [ -n "${JOBMATCH_ADMIN_KEY:-}" ]; then
  key_args=(-k "$JOBMATCH_ADMIN_KEY")
  # shellcheck disable=SC2016 # printed as is, so the key stays out of the log
  key_hint='-k "$JOBMATCH_ADMIN_KEY"'
  key_where="from \$JOBMATCH_ADMIN_KEY"
fi

if [ ! -e "$secret" ]; then
  "$daemon" --gen-secret-key "$secret"
  echo "run.sh: made the secret key $secret; back it up, but never beside the data:" \
    "without it the workers' personal fields cannot be read"
fi

if [ ! -e "$data/data.mdb" ]; then
  (umask 077 && mkdir -p "$data/demo")  # the records are personal data
  echo "run.sh: first start: generating and loading the demo data set into $data"
  # A fixed seed gives the same demo set every time; "now" is the real
  # time, so the openings look current (posted in the last 90 days).
  "$gen" --data "$root/data" --seed 20240601 --now "$(date +%s)" \
    --vacancies 3000 --out-vacancies "$data/demo/vacancies.jsonl" \
    --workers 3000 --out-workers "$data/demo/workers.jsonl"

  ready="$data/demo/ready"
  rm -f "$ready"
  "$daemon" --listen 127.0.0.1:0 --data "$data" --ready-file "$ready" \
    --secret-key-file "$secret" &
  pid=$!
  # Stop the loader daemon whatever happens below.
  trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

  for _ in $(seq 1 300); do
    [ -s "$ready" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: jobmatchd exited during the first start" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ ! -s "$ready" ]; then
    echo "run.sh: jobmatchd did not become ready" >&2
    exit 1
  fi
  addr=$(head -n 1 "$ready")

  "$cli" -a "$addr" "${key_args[@]}" import vacancies "$data/demo/vacancies.jsonl"
  "$cli" -a "$addr" "${key_args[@]}" import workers "$data/demo/workers.jsonl"

  kill -TERM "$pid"
  wait "$pid" || true
  trap - EXIT
  rm -f "$ready"
fi

echo "run.sh: jobmatchd on $listen, data in $data; admin key $key_where." \
  "Query it with: $build/jobmatch -a $listen $key_hint info;" \
  "the kiosk beside it: make kiosk (in another terminal)"
exec "$daemon" --listen "$listen" --data "$data" --secret-key-file "$secret"
