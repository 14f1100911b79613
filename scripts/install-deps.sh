#!/bin/sh
# Installs the Debian 12 packages jobmatch builds and tests with, when any
# is missing. Runs apt-get as root, through sudo otherwise.
set -e
pkgs="build-essential cmake pkg-config libevent-dev liblmdb-dev libmsgpack-dev
libcriterion-dev libinih-dev libjansson-dev libyajl-dev libsodium-dev libsystemd-dev libedit-dev lmdb-utils
python3 python3-msgpack valgrind clang chromium fonts-wqy-microhei"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
# The kiosk's browser test runs node and npm (tests/browser); a node.js that
# brings its own npm (as some vendors' packages do) is used as it is.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
