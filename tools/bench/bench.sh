#!/usr/bin/env bash
# tools/bench/bench.sh: what decoding and run-time access cost, measured side by side.
#
# Usage: tools/bench/bench.sh [-n RUNS] [-o REPORT.md] [XZ_FILE]
#   XZ_FILE  defaults to assets/kernel.xz.
#   -n RUNS  runs per decoder (default 9); the runs of all decoders are interleaved
#            (round robin) so a load spike from other work hits every decoder alike.
#   -o FILE  also write the tables to FILE (markdown).
#
# Prints:
#  1. one table of decoders on XZ_FILE: tools/unxz, xz-utils -T1 and -T2, and
#     ulikunitz's plain sequential reader (tools/bench/benchhelper): median wall
#     time, MB/s of output, ratio to xz -T1 from the same run, peak RSS (median
#     of the runs, from GNU time's %M). Every output is checked byte-identical.
#  2. run-time access through the kernel package (go build path): the first
#     KernelBytes() in a process, ExtractKernelTo against a plain copy of the same
#     bytes (with and without fsync), and kernel.ExtractToCache() in a first
#     process (empty cache: decodes) and in later ones (verified files found).
#     Skipped with a note when ./kernel does not exist yet.
# Bazel rows (cold/no-op build of //:kernel, go_binary size and link time) are
# not measured here; docs/performance.md keeps a section for them.
#
# Needs: go, xz (xz-utils) and GNU time; installs the last two with apt-get
# when missing. Builds everything it runs into a temporary directory.
set -euo pipefail

runs=9
report=""
while getopts "n:o:h" opt; do
  case "$opt" in
    n) runs="$OPTARG" ;;
    o) report="$OPTARG" ;;
    h) sed -n '2,22p' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))

root="$(cd "$(dirname "$0")/../.." && pwd)"
xzfile="${1:-$root/assets/kernel.xz}"
[[ -f "$xzfile" ]] || { echo "bench: $xzfile: no such file" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench: -n $runs: not a positive count" >&2; exit 2; }

need=()
command -v xz >/dev/null || need+=(xz-utils)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  echo "bench: installing ${need[*]} with apt-get" >&2
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$root"
go build -o "$work/unxz" ./tools/unxz
go build -o "$work/benchhelper" ./tools/bench/benchhelper

# Reference output (and its size/sha256, passed to unxz as a Bazel action would).
xz -dc -T1 "$xzfile" >"$work/ref"
size=$(stat -c %s "$work/ref")
sum=$(sha256sum "$work/ref" | cut -d' ' -f1)
xzsize=$(stat -c %s "$xzfile")

names=("unxz" "xz -T1" "xz -T2" "ulikunitz")
run_one() { # index -> runs one decoder writing $work/out
  case "$1" in
    0) "$work/unxz" --src "$xzfile" --out "$work/out" --sha256 "$sum" --size "$size" ;;
    1) xz -dc -T1 "$xzfile" >"$work/out" ;;
    2) xz -dc -T2 "$xzfile" >"$work/out" ;;
    3) "$work/benchhelper" ulikunitz "$xzfile" "$work/out" ;;
  esac
}
export -f run_one
export work xzfile sum size

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < runs; r++)); do
  for ((k = 0; k < ${#names[@]}; k++)); do
    i=$(((k + r) % ${#names[@]}))  # rotate the order every round
    rm -f "$work/out"
    t0=$(date +%s%N)
    /usr/bin/time -o "$work/rss" -f "%M %U %S" bash -c "run_one $i"
    t1=$(date +%s%N)
    cmp -s "$work/out" "$work/ref" || { echo "bench: ${names[$i]} output differs from xz -dc" >&2; exit 1; }
    echo "$(((t1 - t0) / 1000)) $(cat "$work/rss")" >>"$work/times.$i"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -a med rss cpu
for ((i = 0; i < ${#names[@]}; i++)); do
  med[$i]=$(cut -d' ' -f1 "$work/times.$i" | median)
  rss[$i]=$(cut -d' ' -f2 "$work/times.$i" | median)
  cpu[$i]=$(awk '{ print $3 + $4 }' "$work/times.$i" | median)
done

out="$work/report.md"
{
  echo "### Decoders on $(basename "$xzfile") ($xzsize bytes -> $size bytes), median of $runs interleaved runs"
  echo
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before/after: $load_before / $load_after"
  echo "versions: $(go version | cut -d' ' -f3), $(xz --version | head -1)"
  echo
  echo "| decoder | median wall | MB/s (output) | wall ratio to xz -T1 | peak RSS | median CPU (user+sys) | CPU ratio to xz -T1 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for ((i = 0; i < ${#names[@]}; i++)); do
    awk -v n="${names[$i]}" -v us="${med[$i]}" -v ref="${med[1]}" -v sz="$size" -v kb="${rss[$i]}" \
      -v c="${cpu[$i]}" -v cref="${cpu[1]}" \
      'BEGIN { printf "| %s | %.3f s | %.1f | %.2fx | %.1f MiB | %.2f s | %.2fx |\n", n, us/1e6, sz/us, us/ref, kb/1024, c, c/cref }'
  done
  echo
  echo "(unxz includes verifying --size and --sha256, fsync and rename; the others write to a redirect."
  echo "Wall ratios of the multi-threaded decoders only mean something when the load average is below the"
  echo "core count: on a busy machine they get no second core, and their CPU column is the better guide.)"
  echo
  if [[ -d "$root/kernel" ]]; then
    n=$((runs < 5 ? 5 : runs))
    mkdir -p "$work/extract"
    "$work/benchhelper" extract "$n" "$work/extract" >"$work/extract.txt"
    get() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$2"; }
    # First process: empty cache, decodes; later processes find the verified files.
    export XDG_CACHE_HOME="$work/cache"
    t0=$(date +%s%N); "$work/benchhelper" cache >"$work/cache.first"; t1=$(date +%s%N)
    first_wall=$(((t1 - t0) / 1000))
    : >"$work/cache.later"
    for ((r = 0; r < n; r++)); do
      t0=$(date +%s%N); "$work/benchhelper" cache >"$work/cache.one"; t1=$(date +%s%N)
      echo "$(((t1 - t0) / 1000)) $(get cache_ms "$work/cache.one")" >>"$work/cache.later"
    done
    later_wall=$(cut -d' ' -f1 "$work/cache.later" | median)
    later_in=$(cut -d' ' -f2 "$work/cache.later" | median)
    plain=$(get plain_copy_ms "$work/extract.txt")
    echo "### Run-time access through ./kernel ($(get embed_kind "$work/extract.txt"))"
    echo
    echo "| what | time | ratio to a plain copy |"
    echo "| --- | ---: | ---: |"
    row() { awk -v w="$1" -v ms="$2" -v p="$plain" 'BEGIN { printf "| %s | %.1f ms | %.2fx |\n", w, ms, ms/p }'; }
    row "plain copy of the kernel bytes (os.WriteFile, no fsync), median of $n" "$plain"
    row "plain copy + fsync, median of $n" "$(get plain_copy_fsync_ms "$work/extract.txt")"
    row "ExtractKernelTo (temp file, fsync, chmod, rename), median of $n" "$(get extract_ms "$work/extract.txt")"
    row "first KernelBytes() in a process" "$(get first_bytes_ms "$work/extract.txt")"
    row "ExtractToCache, first process (empty cache), in-process" "$(get cache_ms "$work/cache.first")"
    row "ExtractToCache, first process, whole process" "$(awk -v u="$first_wall" 'BEGIN{print u/1000}')"
    row "ExtractToCache, later process (files verified), in-process, median of $n" "$later_in"
    row "ExtractToCache, later process, whole process, median of $n" "$(awk -v u="$later_wall" 'BEGIN{print u/1000}')"
  else
    echo "### Run-time access: skipped (no ./kernel package in this tree yet)"
  fi
} >"$out"
cat "$out"
if [[ -n "$report" ]]; then cp "$out" "$report"; fi
