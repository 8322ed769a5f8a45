#!/usr/bin/env bash
# The whole test suite, as README.md gives it and CI runs it: installs the project, starts the real
# PostgreSQL and Kafka, runs ruff, mypy and pytest (services required: missing ones fail, not skip),
# and stops the broker it started. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# The export report tests read PDFs with poppler's pdftotext (pdftoppm renders pages to look at);
# CI runs as root on Debian, so install them once when missing.
if ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
fi
# The Prometheus alerting rules are checked and unit-tested with promtool, from Debian's prometheus
# package (no recommends). Its server is not needed: if the package starts it, nothing here uses it.
if ! command -v promtool >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# The Kubernetes manifests (deploy/k8s/) are rendered with the real kustomize, built once from the Go
# module proxy into .cache/tools (about a minute the first time; no kubectl or cluster is needed).
if [[ ! -x .cache/tools/kustomize ]]; then
    GOBIN="$PWD/.cache/tools" GOTOOLCHAIN=local GOFLAGS=-modcacherw \
        "${GO:-/usr/local/go/bin/go}" install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
fi
# The browser tests drive Debian's Chromium with Playwright (Playwright's own browser download cannot work
# here: `playwright install` is never run); install it once when missing.
if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
deploy/local/postgres.sh start
deploy/local/kafka.sh start
trap 'deploy/local/kafka.sh stop >/dev/null 2>&1 || true' EXIT

.venv/bin/ruff check ledger projections consumers tests bench tools
.venv/bin/ruff format --check ledger projections consumers tests bench tools
.venv/bin/mypy
.venv/bin/mypy --strict tools/verify_export.py  # the standalone verifier: standard library and cryptography only

export LEDGER_REQUIRE_SERVICES=1
export LEDGER_TEST_DATABASE_URL=${LEDGER_TEST_DATABASE_URL:-$(deploy/local/postgres.sh url test)}
export LEDGER_KAFKA_BOOTSTRAP=${LEDGER_KAFKA_BOOTSTRAP:-$(deploy/local/kafka.sh bootstrap)}
.venv/bin/pytest "$@"
