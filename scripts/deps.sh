#!/bin/sh
# Installs what building and testing nfstream needs, when it is missing, and
# checks the Go toolchain. Run as root on Debian bookworm (CI and the README's
# commands call it through make); it changes nothing when all is there.
set -eu

# System packages: nDPI and libpcap for cgo, tcpdump (libpcap's reader, the
# independent judge in the capture tests), python3 (the judge of float and
# address formatting), libndpi-bin (ndpiReader, the judge of the nDPI
# integration), iproute2 (network namespaces for the live capture tests),
# zstd (reads back .zst output), pkg-config and a C compiler for cgo;
# python3-sklearn, -xgboost, -onnx and -pandas train the models whose
# predictions the model tests compare with ours (internal/model); tcpreplay
# and wireshark-common build scripts/bench-realistic's capture; nfdump
# (nfcapd) and pmacct (nfacctd) are the IPFIX collectors of the export tests.
pkgs="gcc pkg-config libpcap-dev libndpi-dev libndpi-bin tcpdump python3 iproute2 zstd tshark python3-sklearn python3-xgboost python3-onnx python3-pandas tcpreplay wireshark-common nfdump pmacct"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "deps: missing Debian packages:$missing (install them as root with apt-get)" >&2
		exit 1
	fi
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq $missing >&2
fi

# Go 1.26 or later: Debian's own Go is too old; the machine's is in /usr/local/go.
go=${GO:-}
if [ -z "$go" ]; then
	if [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; else go=$(command -v go || true); fi
fi
if [ -z "$go" ]; then
	echo "deps: no Go toolchain found; install Go 1.26 or later in /usr/local/go" >&2
	exit 1
fi
v=$("$go" env GOVERSION | sed 's/^go//')
major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 26 ]; }; then
	echo "deps: $go is Go $v; nfstream needs Go 1.26 or later (Debian's own Go is too old; use /usr/local/go)" >&2
	exit 1
fi

# DuckDB, the independent reader of partitioned Parquet output
# (docs/partitions.md): its Node.js client from the npm registry, kept in a
# cache outside the repository, pinned so every run reads with the same
# engine. Best effort: the tests that need it skip, saying why, without it.
duck=${NFSTREAM_DUCKDB:-$HOME/.cache/nfstream-test/duckdb}
if [ ! -d "$duck/node_modules/@duckdb/node-api" ]; then
	if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "deps: installing nodejs npm" >&2
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get update -qq && apt-get install -y -qq nodejs npm; } >&2 || true
	fi
	if command -v npm >/dev/null; then
		echo "deps: installing @duckdb/node-api in $duck" >&2
		mkdir -p "$duck" && npm install --silent --no-audit --no-fund -E --prefix "$duck" @duckdb/node-api@1.5.6-r.1 >&2 ||
			echo "deps: could not install @duckdb/node-api; the DuckDB tests will skip" >&2
	else
		echo "deps: no npm: the DuckDB tests will skip" >&2
	fi
fi
# polars, the second reader of the partitioned tree, through its Node.js
# binding (pinned: newer releases do not serve the Linux build npm needs).
pol=$HOME/.cache/nfstream-test/polars
if [ ! -d "$pol/node_modules/nodejs-polars" ] && command -v npm >/dev/null; then
	echo "deps: installing nodejs-polars in $pol" >&2
	mkdir -p "$pol" && npm install --silent --no-audit --no-fund -E --prefix "$pol" nodejs-polars@0.25.2 nodejs-polars-linux-x64-gnu@0.25.2 >&2 ||
		echo "deps: could not install nodejs-polars; the polars test will skip" >&2
fi
