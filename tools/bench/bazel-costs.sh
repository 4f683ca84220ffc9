#!/usr/bin/env bash
# tools/bench/bazel-costs.sh: what consuming the kernel through Bazel costs, measured with tools/bazel in a
# fresh output base (and no disk cache, so every action really runs). Prints one markdown table:
#
#  - cold build of //:kernel, and a no-op rebuild (whose process summary must show no action executed);
#  - a go_binary that embeds the kernel (//tools/bench/linkcost/embedded, deps on //kernel) against one that
#    carries it in its runfiles (//tools/bench/linkcost/runfiles, deps on //assetpaths): binary size and the
#    GoLink action's own duration, from the same build's JSON profile, with their ratio;
#  - the first kernel.KernelBytes() call in a Bazel-built process (benchhelper extract): no decoding.
#
# Usage: tools/bench/bazel-costs.sh        (needs python3 to read Bazel's JSON profile)
set -euo pipefail
cd "$(dirname "$0")/../.."

work="$(mktemp -d /tmp/bazel-costs.XXXXXX)"
ob="$work/ob"
bz() { tools/bazel --output_base="$ob" "$@"; }
cleanup() {
	bz shutdown >/dev/null 2>&1 || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
flags=(--disk_cache= --noremote_accept_cached)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t0=$(now)
bz build "${flags[@]}" //:kernel >"$work/cold.log" 2>&1 || { cat "$work/cold.log"; exit 1; }
t1=$(now)
cold_procs="$(grep -o '[0-9]* process\(es\)\?:.*' "$work/cold.log" | tail -1)"

t2=$(now)
bz build "${flags[@]}" //:kernel >"$work/noop.log" 2>&1
t3=$(now)
noop_procs="$(grep -o '[0-9]* process\(es\)\?:.*' "$work/noop.log" | tail -1)"
case "$noop_procs" in
"1 process: 1 internal.") ;;
*) echo "bazel-costs: the no-op rebuild ran actions: $noop_procs" >&2; exit 1 ;;
esac

bins=(//tools/bench/linkcost/embedded //tools/bench/linkcost/runfiles)
bz build "${flags[@]}" --profile="$work/profile.json" "${bins[@]}" //tools/bench/benchhelper >"$work/link.log" 2>&1 ||
	{ cat "$work/link.log"; exit 1; }
size_of() { stat -c %s "$(bz cquery --output=files "$1" 2>/dev/null | head -1)"; }
embed_size=$(size_of //tools/bench/linkcost/embedded)
run_size=$(size_of //tools/bench/linkcost/runfiles)
# The GoLink action of each binary, by its progress message ("GoLink tools/bench/linkcost/NAME/...").
read -r embed_link run_link < <(python3 - "$work/profile.json" <<'PY'
import json, sys
events = json.load(open(sys.argv[1]))
events = events["traceEvents"] if isinstance(events, dict) else events
def link_ms(name):
    d = [e["dur"] for e in events if e.get("ph") == "X" and "GoLink" in e.get("name", "")
         and f"linkcost/{name}/" in e.get("name", "")]
    return max(d) / 1000 if d else float("nan")
print(f"{link_ms('embedded'):.0f} {link_ms('runfiles'):.0f}")
PY
)

helper="$(bz cquery --output=files //tools/bench/benchhelper 2>/dev/null | head -1)"
mkdir -p "$work/x"
first_ms="$("$helper" extract 1 "$work/x" | awk '$1 == "first_bytes_ms" { print $2 }')"

mib() { awk -v n="$1" 'BEGIN { printf "%.1f MiB", n / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
cat <<EOF
| what | figure |
| --- | --- |
| cold build of \`//:kernel\` (fresh output base, no disk cache; builds unxz and its Go SDK actions first) | $(secs "$t0" "$t1") s ($cold_procs) |
| no-op rebuild of \`//:kernel\` | $(secs "$t2" "$t3") s ($noop_procs) |
| go_binary embedding the kernel (\`//kernel\`): size | $(mib "$embed_size") |
| go_binary carrying it in \`data\` (\`//assetpaths\`): size | $(mib "$run_size") (embedding: $(ratio "$embed_size" "$run_size")) |
| GoLink action, embedding | ${embed_link} ms |
| GoLink action, runfiles | ${run_link} ms (embedding: $(ratio "$embed_link" "$run_link")) |
| first \`kernel.KernelBytes()\` in a Bazel-built process | ${first_ms:-?} ms (embedded bytes, no decoding) |
EOF
