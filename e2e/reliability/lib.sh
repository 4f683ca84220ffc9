# Shared by the scripts in e2e/reliability (sourced, not run). They build the root module exactly as a user
# would, through tools/bazel, each in throwaway output bases under one scratch folder, and stop every Bazel
# server they start on exit.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bazel="$root/tools/bazel"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/supermachine-reliability.XXXXXX")"
output_bases=()
cleanups=()

# bz OUTPUT_BASE ARGS...: runs Bazel in the root module with that output base, remembering the server.
bz() {
	local ob="$1"
	shift
	local o seen=0
	for o in "${output_bases[@]:-}"; do [[ "$o" == "$ob" ]] && seen=1; done
	[[ $seen == 1 ]] || output_bases+=("$ob")
	(cd "$root" && "$bazel" --output_base="$ob" "$@")
}

on_exit() {
	local c ob
	for c in "${cleanups[@]:-}"; do [[ -n "$c" ]] && eval "$c"; done
	for ob in "${output_bases[@]:-}"; do
		[[ -n "$ob" && -d "$ob" ]] || continue
		(cd "$root" && "$bazel" --output_base="$ob" shutdown >/dev/null 2>&1) || true
	done
	chmod -R u+w "$scratch" 2>/dev/null || true
	rm -rf "$scratch"
}
trap on_exit EXIT

# fail MESSAGE...: prints the script's name and the message on stderr and exits 1.
fail() {
	echo "$(basename "$0"): FAIL: $*" >&2
	exit 1
}

note() {
	echo "$(basename "$0"): $*"
}

# execlog FILE: one line per spawn (mnemonic, runner, cache, env names, first output); see execlog/main.go.
execlog() {
	(cd "$root" && go run ./e2e/reliability/execlog "$1")
}

# manifest_sha NAME: the sha256 of the decompressed asset NAME, from assets/manifest.json.
manifest_sha() {
	awk -v n="$1" '
		$0 ~ "\"name\": \"" n "\"" { a = 1 }
		a && /"raw": \{/ { r = 1 }
		a && r && /"sha256":/ { gsub(/.*"sha256": "|".*/, ""); print; exit }
	' "$root/assets/manifest.json"
}
