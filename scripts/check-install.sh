#!/usr/bin/env bash
# check-install.sh proves that a user can `go get` every public module of the
# repository at the version it is about to be tagged with, before any tag is
# pushed (RELEASING.md). Usage:
#
#	scripts/check-install.sh [VERSION]     (default v0.1.0)
#
# 1. It builds a module proxy directory (GOPROXY=file://…) holding the public
#    modules at VERSION, made as proxy.golang.org makes them from a tag: from
#    the committed files of HEAD (uncommitted changes are not part of a tag),
#    each module's zip without its nested modules, the go.mod inside it
#    served as the .mod file (scripts/installcheck/mkproxy.go, with
#    golang.org/x/mod/zip). The sub-modules' go.mod keep their
#    `replace … => ../`: it is what the tag will hold, and the check shows
#    that their users ignore it.
# 2. In a fresh module outside the repository, with that directory first in
#    GOPROXY and the usual proxy after it for third-party modules, it runs
#    `go get` of each public module @VERSION and builds and vets a program
#    that uses them (scripts/installcheck/consumer.go), then `go install`s
#    the commands of the core @VERSION and runs the demo.
# 3. It checks that what the go command fetched is what step 1 built (go.sum
#    lines), at VERSION, from the module cache, not replaced.
#
# The project's own modules skip the checksum database (GONOSUMDB: it cannot
# know them before they are published); third-party modules are verified
# against it as usual. Everything happens in one temporary directory (module
# cache included, so that no unpublished v0.1.0 stays in yours), removed on
# exit. Network: the Go module proxy only. It fails loudly: any step that
# fails prints its output and the script exits non-zero.
set -euo pipefail

# The modules users install. Every folder with a go.mod must be in one list.
public=(. pkcegin redisstore pkceprom)
testonly=(interop bench auditpanel) # test-only modules: never tagged, never installed

version=${1:-v0.1.0}
root=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS

say() { echo "check-install: $*"; }
fail() {
	echo "check-install: FAILED: $*" >&2
	exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/check-install.XXXXXX")
cleanup() {
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# run NAME CMD...: runs CMD quietly and says how long it took; on failure
# prints its output and stops.
run() {
	local name=$1 t=$SECONDS
	shift
	if ! "$@" >"$work/step.log" 2>&1; then
		echo "check-install: FAILED: $name: $*" >&2
		sed 's/^/    /' "$work/step.log" >&2
		exit 1
	fi
	say "$name: ok ($((SECONDS - t))s)"
}

# Every module of the repository is either public or test-only, so that a
# new module is not left out of the releases by accident.
while IFS= read -r gomod; do
	dir=$(dirname "${gomod#./}")
	case " ${public[*]} ${testonly[*]} " in
	*" $dir "*) ;;
	*) fail "$dir/go.mod: a module neither public nor test-only; add it to one of the lists in scripts/check-install.sh and to RELEASING.md" ;;
	esac
done < <(cd "$root" && find . -name go.mod -not -path './.git/*' -not -path '*/testdata/*')

core=$(cd "$root" && GOWORK=off GOFLAGS= go list -m)
modpath() { if [ "$1" = . ]; then echo "$core"; else echo "$core/$1"; fi; }

# Build from HEAD when git can read the repository (as a tag would), from the
# work tree otherwise (e.g. a source archive without .git).
rev=HEAD
if commit=$(git -C "$root" rev-parse --verify -q HEAD 2>/dev/null); then
	say "modules at $version from commit ${commit:0:12}"
	if [ -n "$(git -C "$root" status --porcelain -- "${public[@]}" 2>/dev/null)" ]; then
		say "note: uncommitted changes in the work tree are not part of the check (a tag holds commits only)"
	fi
else
	rev=
	say "modules at $version from the work tree (git cannot read $root)"
fi

# Third-party modules: from your module cache when it has them (read as a
# proxy, no network), otherwise from your usual proxy.
usual=$(go env GOPROXY)
mine=$(go env GOMODCACHE)/cache/download
thirdparty=$usual
if [ -d "$mine" ]; then
	thirdparty="file://$mine,$usual"
fi

export GOWORK=off GO111MODULE=on GOTOOLCHAIN=local
# -modcacherw lets the cleanup remove the temporary module cache; -trimpath
# keeps its path out of the build cache keys, so that a second run reuses
# what the first compiled.
export GOFLAGS="-modcacherw -trimpath"
export GOMODCACHE=$work/modcache
export GOPRIVATE= GONOPROXY= GONOSUMDB=

# Step 1: the proxy directory. mkproxy runs in a module of its own with
# golang.org/x/mod pinned by hash.
mkdir -p "$work/mkproxy" "$work/proxy"
sed '/^\/\/go:build ignore$/d' "$root/scripts/installcheck/mkproxy.go" >"$work/mkproxy/main.go"
cat >"$work/mkproxy/go.mod" <<'EOF'
module mkproxy

go 1.24.0

require golang.org/x/mod v0.31.0
EOF
cat >"$work/mkproxy/go.sum" <<'EOF'
golang.org/x/mod v0.31.0 h1:HaW9xtz0+kOcWKwli0ZXy79Ix+UW/vOfmWI5QVd2tgI=
golang.org/x/mod v0.31.0/go.mod h1:43JraMp9cGx1Rx3AqioxrbrhNsLl2l/iNAvuBkrezpg=
EOF
run "building mkproxy" env GOPROXY="$thirdparty" sh -c "cd '$work/mkproxy' && go vet . && go build -o '$work/mkproxy.bin' ."
run "building the module proxy" "$work/mkproxy.bin" -repo "$root" -rev "$rev" -version "$version" \
	-out "$work/proxy" -sums "$work/expected.sum" "${public[@]}"
sed 's/^/    /' "$work/step.log"

# Step 2: a user's fresh module.
export GOPROXY="file://$work/proxy,$thirdparty"
export GONOSUMDB=$core
golang=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$root/go.mod") # the oldest Go the project supports
mkdir -p "$work/consumer" "$work/bin"
cd "$work/consumer"
printf 'module example.com/consumer\n\ngo %s\n' "$golang" >go.mod
sed '/^\/\/go:build ignore$/d' "$root/scripts/installcheck/consumer.go" >main.go
gets=()
for m in "${public[@]}"; do gets+=("$(modpath "$m")@$version"); done
run "go get ${gets[*]}" go get "${gets[@]}"
run "go mod tidy" go mod tidy
run "go build (scripts/installcheck/consumer.go)" go build -o "$work/bin/consumer" .
run "go vet" go vet .
case "$(sed -n 's/^go //p' go.mod)" in
"$golang" | "$golang".*) ;;
*) fail "go get moved the user's go line from $golang to $(sed -n 's/^go //p' go.mod): a Go $golang user could not install the modules" ;;
esac

run "go install $core/cmd/pkce-audit@$version $core/cmd/pkce-demo@$version" \
	env GOBIN="$work/bin" go install "$core/cmd/pkce-audit@$version" "$core/cmd/pkce-demo@$version"
run "pkce-demo (as installed)" "$work/bin/pkce-demo"

# Step 3: what was fetched is what step 1 built, not the replace target and
# not something of the same name from elsewhere.
while IFS= read -r line; do
	grep -qxF "$line" go.sum || fail "go.sum lacks '$line': the go command did not fetch the module built from the repository (go.sum follows)$(printf '\n'; grep -F "$core" go.sum)"
done <"$work/expected.sum"
for m in "${public[@]}"; do
	p=$(modpath "$m")
	got=$(go list -m -f '{{.Version}} {{if .Replace}}replaced{{else}}{{.Dir}}{{end}}' "$p")
	case "$got" in
	"$version $GOMODCACHE/"*) ;;
	*) fail "$p resolved to '$got', want $version from the module cache" ;;
	esac
	if [ "$m" != . ] && grep -q '^replace' "$(go list -m -f '{{.GoMod}}' "$p")"; then
		say "$p@$version: its go.mod keeps its replace directive, and its users ignore it"
	fi
done

say "ok: every public module installs at $version (${public[*]}), in $((SECONDS - start))s"
