#!/usr/bin/env bash
# Regenerates the figures of docs/performance.md (issue 11) with one command,
# on a fresh clone: `make perf`, or `bash bench/perf.sh` from anywhere.
#
#   1. compiles the root module's and bench/'s benchmark binaries once;
#   2. runs ROUNDS interleaved rounds, each running every benchmark of the
#      targets once (the root's BenchmarkAuthorizeShape, BenchmarkTokenShape
#      and BenchmarkFlow, then bench/'s BenchmarkFlow against fosite), so
#      that background load on a shared machine falls on both sides of each
#      ratio alike;
#   3. summarises them with bench/cmd/perfreport (medians and fastest
#      samples, ratios, allocation differences, verdicts);
#   4. runs the loopback load run (bench/cmd/pkce-load) of pkce-demo wrapped
#      and -unprotected;
#   5. writes all of it, with the machine's description, between the
#      perf:begin and perf:end markers of docs/performance.md (OUT=file to
#      write the section elsewhere instead).
#
# ROUNDS (default 8), BENCHTIME (default 20000x), CLIENTS, LOAD_DURATION,
# LOAD_ROUNDS tune it. It takes about five minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off
ROUNDS=${ROUNDS:-8}
BENCHTIME=${BENCHTIME:-20000x}
CLIENTS=${CLIENTS:-8}
LOAD_DURATION=${LOAD_DURATION:-3s}
LOAD_ROUNDS=${LOAD_ROUNDS:-5}
DOC=docs/performance.md
# The raw benchmark output stays in PERF_DIR (default: a new temporary
# directory, printed at the end) for benchstat or a second look.
tmp=${PERF_DIR:-$(mktemp -d)}
mkdir -p "$tmp"

echo "== compiling the benchmarks" >&2
go test -c -o "$tmp/root.test" .
(cd bench && go test -c -o "$tmp/bench.test" .)
(cd bench && go build -o "$tmp/perfreport" ./cmd/perfreport && go build -o "$tmp/pkce-load" ./cmd/pkce-load)

for i in $(seq "$ROUNDS"); do
	echo "== round $i of $ROUNDS" >&2
	"$tmp/root.test" -test.run '^$' -test.bench '^Benchmark(AuthorizeShape|TokenShape|Flow)$' \
		-test.benchmem -test.benchtime "$BENCHTIME" | tee -a "$tmp/root.txt" >&2
	(cd bench && "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkFlow$' \
		-test.benchmem -test.benchtime "$BENCHTIME") | tee -a "$tmp/bench.txt" >&2
done
"$tmp/perfreport" "$tmp/root.txt" "$tmp/bench.txt" >"$tmp/figures.md"

echo "== loopback load run" >&2
if ! (cd bench && "$tmp/pkce-load" -root .. -clients "$CLIENTS" -duration "$LOAD_DURATION" \
	-rounds "$LOAD_ROUNDS" -md "$tmp/load.md") >&2; then
	echo "The load run failed; see the output of bench/perf.sh." >"$tmp/load.md"
fi

cpu=$(grep -m1 '^cpu:' "$tmp/root.txt" | sed 's/^cpu: //')
model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
{
	echo "<!-- perf:begin: written by bench/perf.sh; edit the script, not this section -->"
	echo
	echo "Generated $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- '*.go' || echo ' (with uncommitted changes)') by \`make perf\` (bench/perf.sh)."
	echo "Machine: \`nproc\` $(nproc), cpu \`${cpu:-unknown}\` (/proc/cpuinfo: \`${model:-unknown}\`),"
	echo "$(go env GOOS)/$(go env GOARCH), $(go version | awk '{print $3}'), load average at the end of the"
	echo "benchmarks \`$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)\`; $ROUNDS interleaved rounds of \`-benchtime $BENCHTIME\`."
	echo
	echo "### Targets"
	echo
	cat "$tmp/figures.md"
	echo
	echo "### Loopback load run"
	echo
	cat "$tmp/load.md"
	echo
	echo "<!-- perf:end -->"
} >"$tmp/section.md"

if [ -n "${OUT:-}" ]; then
	cp "$tmp/section.md" "$OUT"
	echo "wrote $OUT; raw output in $tmp" >&2
	exit 0
fi
if ! grep -q '^<!-- perf:begin' "$DOC" || ! grep -q '^<!-- perf:end -->' "$DOC"; then
	echo "perf.sh: $DOC has no perf:begin/perf:end markers; the section is:" >&2
	cat "$tmp/section.md"
	exit 1
fi
awk -v section="$tmp/section.md" '
	/^<!-- perf:begin/ { while ((getline l < section) > 0) print l; skip = 1; next }
	/^<!-- perf:end -->/ { skip = 0; next }
	!skip { print }
' "$DOC" >"$tmp/doc.md"
cp "$tmp/doc.md" "$DOC"
echo "updated $DOC; raw output in $tmp" >&2
