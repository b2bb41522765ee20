#!/bin/sh
# The entry point of the README's two commands: on a fresh Debian machine
# make itself may be missing, so install it (as root, with apt) first; make
# then installs everything else it needs (scripts/deps.sh) and checks Go.
set -eu
cd "$(dirname "$0")/.."
if ! command -v make >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "make.sh: make is missing; install it as root with apt-get install make" >&2
		exit 1
	fi
	echo "make.sh: installing make" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >&2
fi
exec make "$@"
