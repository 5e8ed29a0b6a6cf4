#!/bin/sh
# Install every Debian package the build, the demo, the tests and the
# benchmarks need. Idempotent: installs only what is missing.
set -eu

PKGS="
build-essential pkg-config make gcc clang libclang-rt-14-dev cppcheck valgrind
libuv1-dev libraft-dev libssl-dev libjansson-dev libhttp-parser-dev
libcurl4-openssl-dev libcmocka-dev
openssl curl jq python3 iproute2 nftables util-linux procps busybox-static
libarchive-dev runc tini
"
# The reference daemon for the side-by-side benchmarks (bench/).
if [ "${SHOAL_BENCH:-0}" = 1 ]; then
    PKGS="$PKGS docker.io"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
