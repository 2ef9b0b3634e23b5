# The project's commands. `make test` is the one test command: it tests every
# Go module of the repository (the root and each subfolder with a go.mod) on
# its own, with GOWORK=off, as a user who vendors it would build it. The Redis
# store's tests go through scripts/test-redisstore.sh, which says what they
# do and how long they take, and says visibly when they were skipped.

MODULES := $(sort $(dir $(shell find . -name go.mod -not -path './.git/*')))
FUZZTIME ?= 10s

.PHONY: test vet fmt demo fuzz bench bench-once perf redis check-install

test: redis
	@set -e; for m in $(MODULES); do \
		if [ "$$m" = ./redisstore/ ]; then sh scripts/test-redisstore.sh; continue; fi; \
		echo "== go test -race $$m"; \
		(cd $$m && GOWORK=off go test -race -count=1 ./...); \
	done

# redis-server for the Redis store's tests: installed with apt-get where the
# machine allows it, otherwise the script says what to install.
redis:
	@sh scripts/install-redis.sh

# Before tagging a release (RELEASING.md): go get of every public module at
# RELEASE_VERSION from a local module proxy built from HEAD.
RELEASE_VERSION ?= v0.1.0
check-install:
	@bash scripts/check-install.sh $(RELEASE_VERSION)

vet:
	@set -e; for m in $(MODULES); do \
		echo "== go vet $$m"; \
		(cd $$m && GOWORK=off go vet ./...); \
	done

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

demo:
	go run ./cmd/pkce-demo

# Each fuzz target of the root module for FUZZTIME. The race detector would
# cut the executions tenfold; the targets and their corpus run under -race
# in `make test`.
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
		for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== fuzz $$pkg $$f"; \
			go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench:
	go test -run '^$$' -bench . -benchmem .

# Every benchmark of every module compiled and run once (CI): a benchmark
# that no longer builds or fails its own checks is caught, without timing.
bench-once: redis
	@set -e; for m in $(MODULES); do \
		echo "== go test -bench . -benchtime 1x $$m"; \
		(cd $$m && GOWORK=off go test -run '^$$' -bench . -benchtime 1x ./...); \
	done

# The figures of docs/performance.md, regenerated (bench/perf.sh).
perf:
	@bash bench/perf.sh
