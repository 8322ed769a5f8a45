# Two commands a newcomer needs: `make run` (the ledger on the embedded default) and `make test`.
.PHONY: setup run test lint bench services-start services-stop clean

setup:
	scripts/setup.sh

run:
	scripts/run.sh

test:
	scripts/test.sh

lint: setup
	.venv/bin/ruff check ledger projections consumers tests bench tools
	.venv/bin/ruff format --check ledger projections consumers tests bench tools
	.venv/bin/mypy
	.venv/bin/mypy --strict tools/verify_export.py  # the standalone verifier: standard library and cryptography only

bench: setup
	deploy/local/postgres.sh start
	.venv/bin/python bench/append.py

services-start:
	deploy/local/postgres.sh start
	deploy/local/kafka.sh start

services-stop:
	deploy/local/kafka.sh stop
	deploy/local/postgres.sh stop

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
