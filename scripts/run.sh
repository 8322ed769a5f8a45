#!/usr/bin/env bash
# Runs the ledger on the embedded default (SQLite in ./var, no services): generates the fictional
# sample data, ingests it, prints a summary and verifies the integrity chain.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/privacy-ledger demo "$@"
