"""RFC 9162 conformance: both verifiers against the published transparency-dev/merkle proof vectors.

The vectors live beside the repository (``../shared/vectors``, as CI checks them out). Each file says
whether a correct verifier accepts it (``wantErr: false``) or rejects it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import load_standalone_verifier

from ledger.log.errors import ProofError
from ledger.log.merkle import verify_consistency, verify_inclusion

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO.parent / "shared" / "vectors" / "rfc9162" / "testdata"
EXPECTED = {"inclusion": 98, "consistency": 98}


def _vectors(kind: str) -> list[tuple[str, dict[str, Any]]]:
    folder = VECTORS / kind
    if not folder.is_dir():
        message = f"conformance vectors not found at {folder} (shared/ must sit beside the repository)"
        if os.environ.get("LEDGER_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    files = sorted(folder.rglob("*.json"))
    return [(str(path.relative_to(VECTORS)), json.loads(path.read_text())) for path in files]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b64(value) for value in vector["proof"] or []]


def _arguments(kind: str, vector: dict[str, Any]) -> tuple[Any, ...]:
    if kind == "inclusion":
        return (
            vector["leafIdx"],
            vector["treeSize"],
            _b64(vector["leafHash"]),
            _proof(vector),
            _b64(vector["root"]),
        )
    return (vector["size1"], vector["size2"], _proof(vector), _b64(vector["root1"]), _b64(vector["root2"]))


def _accepts(check: Callable[..., None], rejection: type[Exception], arguments: tuple[Any, ...]) -> bool:
    """True if ``check`` passes, False if it raises ``rejection``: any other error is a bug."""
    try:
        check(*arguments)
    except rejection:
        return False
    return True


def project_verdict(kind: str, vector: dict[str, Any]) -> bool:
    check = verify_inclusion if kind == "inclusion" else verify_consistency
    return _accepts(check, ProofError, _arguments(kind, vector))


def standalone_verdict(kind: str, vector: dict[str, Any]) -> bool:
    tool = load_standalone_verifier()
    check = tool.verify_inclusion if kind == "inclusion" else tool.verify_consistency
    return _accepts(check, tool.VerificationError, _arguments(kind, vector))


VERIFIERS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "ledger.log": project_verdict,
    "tools/verify_export.py": standalone_verdict,
}


@pytest.mark.parametrize("verifier", sorted(VERIFIERS))
def test_verifier_accepts_exactly_the_valid_rfc9162_vectors(verifier: str) -> None:
    wrong, checked = [], 0
    for kind, count in EXPECTED.items():
        vectors = _vectors(kind)
        assert len(vectors) == count, f"{kind}: {len(vectors)} vector files, {count} published"
        for name, vector in vectors:
            accepted = VERIFIERS[verifier](kind, vector)
            if accepted == vector["wantErr"]:
                wrong.append(f"{name} ({vector['desc']}): {'accepted' if accepted else 'rejected'}")
            checked += 1
    assert checked == 196
    assert wrong == []
