"""The real ``privacy-ledger serve`` process for tests: a free loopback port, plain-HTTP requests, and a clean
stop whose stderr (the access log) the test can read."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, body): JSON bodies decoded, others as text; an error status is an answer too."""
    request = urllib.request.Request(
        url, data=body, headers=dict(headers or {}), method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, got, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, dict(exc.headers), exc.read()
    kind = got.get("content-type", "")
    return status, got, json.loads(raw) if "json" in kind else raw.decode()


@dataclass
class Served:
    """A running ``serve``: its base URL; ``stderr`` is filled in once it has stopped."""

    base: str
    process: subprocess.Popen[str]
    stderr: str = field(default="")
    returncode: int | None = None


@contextmanager
def serving(env: Mapping[str, str], *extra: str) -> Iterator[Served]:
    """Start ``privacy-ledger serve`` on a free port with ENV, wait for ``/livez``, stop it with SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port), *extra],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if http(f"{served.base}/livez")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not answer within 60 s"
            time.sleep(0.2)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        _, served.stderr = process.communicate(timeout=60)
        served.returncode = process.returncode
