#!/usr/bin/env bash
# tools/bench/pgo.sh: regenerate tools/unxz/default.pgo, the CPU profile that
# `go build` uses for profile-guided optimization of unxz (and of
# internal/unpack and ulikunitz/xz inside it), from the decode benchmark on
# assets/kernel.xz. PGO inlines the LZMA2 range decoder's hot calls and
# devirtualizes its byte reads, cutting decode CPU by ~5%.
#
# Usage: tools/bench/pgo.sh   (then run tools/bench/bench.sh to see the effect)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pgo.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
UNPACK_BENCH_XZ="$root/assets/kernel.xz" go test -run '^$' -bench '^BenchmarkDecode$' -benchtime 12x \
  -cpuprofile "$tmp/cpu.pprof" -o "$tmp/unpack.test" ./internal/unpack >&2
# Keep only the samples (no binary path) so the file is the same wherever it is made.
go tool pprof -proto "$tmp/cpu.pprof" >"$tmp/default.pgo" 2>/dev/null
mv "$tmp/default.pgo" tools/unxz/default.pgo
echo "wrote tools/unxz/default.pgo ($(stat -c %s tools/unxz/default.pgo) bytes)" >&2
