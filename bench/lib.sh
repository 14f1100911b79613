# bench/lib.sh - shell helpers shared by bench/run and bench/match.

# Seconds since the epoch with fractions.
now() { date +%s.%N; }

# Reads the req/s (or successes per second) of one row of jmbench's table.
#   row_rate FILE OP ok|all
row_rate() {
  awk -v op="$2" -v mode="$3" '
    /^jmbench:/ { for (i = 1; i <= NF; i++) if ($i == "s") secs = $(i - 1) }
    $1 == op {
      if (mode == "all") { print $4; exit }
      printf "%.0f\n", (secs > 0 ? ($2 - $3) / secs : 0); exit
    }' "$1"
}
row_field() { awk -v op="$2" -v f="$3" '$1 == op { print $f; exit }' "$1"; }

# The block device holding DIR, as the kernel counts it since boot: bytes
# written and milliseconds it was busy; nothing where the kernel keeps no
# such count for it (tmpfs, overlays).
#   disk_counts DIR
disk_counts() {
  local dev
  dev=$(stat -c '%Hd:%Ld' "$1" 2>/dev/null) || return 0
  [ -r "/sys/dev/block/$dev/stat" ] || return 0
  awk '{ printf "%.0f %s\n", $7 * 512, $10 }' "/sys/dev/block/$dev/stat"
}

verdict() { # verdict VALUE OP LIMIT
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "") { print "n/a"; exit }
    ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0)
    print ok ? "met" : "MISSED" }'
}

# start_jobmatchd BUILD DIR [ARGS...]: starts jobmatchd on a free loopback
# port with its data in DIR/data and its log in DIR/jobmatchd.log; waits
# until it listens (up to two minutes: a store of an older format is
# upgraded before the daemon listens). Sets pid and addr.
start_jobmatchd() {
  local build=$1 dir=$2
  shift 2
  rm -f "$dir/ready"
  "$build/jobmatchd" --listen 127.0.0.1:0 --data "$dir/data" \
    --ready-file "$dir/ready" --log-level warn "$@" 2>>"$dir/jobmatchd.log" &
  pid=$!
  for _ in $(seq 1 12000); do
    [ -s "$dir/ready" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "jobmatchd exited; its log:" >&2
      cat "$dir/jobmatchd.log" >&2
      pid=""
      return 1
    fi
    sleep 0.01
  done
  if [ ! -s "$dir/ready" ]; then
    echo "jobmatchd did not become ready" >&2
    return 1
  fi
  addr=$(head -n 1 "$dir/ready")
}

# stop_jobmatchd: SIGTERM and wait.
stop_jobmatchd() {
  if [ -n "${pid:-}" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}

# rss_outside_map PID: resident KiB of every mapping except data.mdb.
rss_outside_map() {
  awk '/^[0-9a-f]+-[0-9a-f]+ / { inmap = ($NF ~ /data\.mdb$/) }
       /^Rss:/ && !inmap { kb += $2 }
       END { print kb + 0 }' "/proc/$1/smaps"
}
