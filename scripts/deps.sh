#!/bin/sh
# Installs the Debian packages cairn needs, or says exactly what to install.
#   scripts/deps.sh build    what `make`/`make test` need (curl, iproute2 and
#                            iptables drive the integration and fault tests)
#   scripts/deps.sh bench    plus the benchmark tools
set -e
want="gcc make pkg-config clang-format libmicrohttpd-dev libcjson-dev libsqlite3-dev libcmocka-dev clang libclang-rt-14-dev curl iproute2 iptables"
case "${1:-build}" in
bench) want="$want wrk hyperfine" ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "missing packages:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
