# syntax=docker/dockerfile:1
# The ledger's image: one image for `consume`, `project` and `serve` (the command picks the process).
#   docker build -t privacy-ledger:0.1.0 .
# Stage 1 builds the wheel (the Avro schemas, code lists, calendars and controller file ship inside it,
# through ledger/_data) and installs it with its dependencies into a virtualenv. Stage 2 copies only
# that virtualenv onto a clean Python image: no compiler, no build tools, no pip, no source tree.
# Not run on the project's machines (no Docker engine there); tests/unit/test_deploy_manifests.py checks
# it with hadolint and reads it for the rules above.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY tools/ tools/
COPY ledger/ ledger/
COPY projections/ projections/
COPY consumers/ consumers/
RUN python -m pip install "build>=1.2" \
    && python -m build --wheel --outdir /dist \
    && python -m venv /opt/ledger \
    && /opt/ledger/bin/pip install /dist/privacy_ledger-*.whl \
    && /opt/ledger/bin/pip uninstall --yes pip setuptools wheel \
    && /opt/ledger/bin/python -m compileall -q /opt/ledger/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="privacy-ledger" \
      org.opencontainers.image.description="Event-sourced, verifiable privacy ledger" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric user (Kubernetes' runAsNonRoot can check a number, not a name).
RUN groupadd --system --gid 10001 ledger \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ledger \
    && mkdir -p /var/lib/ledger /var/lib/ledger-witness \
    && chown 10001:10001 /var/lib/ledger /var/lib/ledger-witness \
    && chmod 0700 /var/lib/ledger /var/lib/ledger-witness
COPY --from=build /opt/ledger /opt/ledger
# The root file system may be read-only: the ledger writes only under LEDGER_VAR_DIR and
# LEDGER_CHECKPOINT_WITNESS_DIR (mount volumes there), Python writes no bytecode, and temporary files
# (export bundles) go to /tmp (a tmpfs or emptyDir where the root file system is read-only).
# The ops endpoints (/healthz, /readyz, /metrics) listen on every address of the container, on port 9464.
ENV PATH=/opt/ledger/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGER_VAR_DIR=/var/lib/ledger \
    LEDGER_CHECKPOINT_WITNESS_DIR=/var/lib/ledger-witness/checkpoints \
    LEDGER_METRICS_HOST=0.0.0.0 \
    LEDGER_METRICS_PORT=9464
WORKDIR /var/lib/ledger
USER 10001:10001
EXPOSE 8000 9464
# Docker's health check: the process's own /healthz on the ops port (Kubernetes uses its probes instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['LEDGER_METRICS_PORT'], timeout=4)"]
ENTRYPOINT ["privacy-ledger"]
CMD ["--help"]
