"""The standalone verifier (tools/verify_export.py): independent of the ledger's code, and its own RFC 8785
canonical form agrees with the ledger's on every value a leaf or a commitment can hold."""

from __future__ import annotations

import ast
import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import load_standalone_verifier
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes
from ledger.log.merkle import leaf_hash, node_hash
from ledger.log.tree import MemoryHashSource, NodeID, inclusion_proof, inclusion_proofs

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "verify_export.py"


def test_standalone_verifier_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(TOOL.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            roots.add(str(node.module).split(".")[0])
    outside = {r for r in roots if r not in sys.stdlib_module_names and r != "cryptography"}
    assert outside == set(), f"the standalone verifier imports {sorted(outside)}"
    assert "ledger" not in roots and "projections" not in roots


def test_privacy_ledger_verify_export_runs_that_very_file():
    from ledger.export.verifier import VERIFIER_PATH

    assert VERIFIER_PATH == TOOL


# RFC 8785 section 3.2.2.3 and appendix B: IEEE 754 doubles and the text ECMAScript gives them.
NUMBERS = [
    (0.0, "0"),
    (-0.0, "0"),
    (1e21, "1e+21"),
    (1e20, "100000000000000000000"),
    (333333333.33333329, "333333333.3333333"),
    (1e30, "1e+30"),
    (4.5, "4.5"),
    (0.002, "0.002"),
    (1e-27, "1e-27"),
    (1e-7, "1e-7"),
    (1e-6, "0.000001"),
    (5e-324, "5e-324"),
    (-5e-324, "-5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (9007199254740992.0, "9007199254740992"),
    (9007199254740994.0, "9007199254740994"),
    (295147905179352830000.0, "295147905179352830000"),
    (-1.5, "-1.5"),
    (0.5, "0.5"),
    (0.1, "0.1"),
    (-0.000123, "-0.000123"),
    (123456789012.5, "123456789012.5"),
    (struct.unpack(">d", bytes.fromhex("4340000000000001"))[0], "9007199254740994"),
    (struct.unpack(">d", bytes.fromhex("0010000000000000"))[0], "2.2250738585072014e-308"),
    (struct.unpack(">d", bytes.fromhex("44b52d02c7e14af6"))[0], "1e+23"),
]


@pytest.mark.parametrize(("value", "text"), NUMBERS)
def test_standalone_jcs_writes_numbers_as_ecmascript_does(value: float, text: str):
    assert load_standalone_verifier().jcs(value) == text.encode()


# Two places where ledger/canonical.py departs from RFC 8785 (reported; changing it would change the
# hash of any stored record holding such a number, so it is the lead's call). The verifier follows the
# RFC; both sides still agree on every leaf and commitment, which are computed from the ledger's own
# text of the value (see the round-trip test below).
@pytest.mark.xfail(strict=True, reason="integral floats from 2**53 to 1e21 are written with every digit")
def test_the_ledgers_canonical_form_of_large_integral_floats_is_rfc_8785():
    assert canonical_bytes(295147905179352830000.0) == b"295147905179352830000"


@pytest.mark.xfail(strict=True, reason="floats below 1e-4 are written with six decimals (format 'f')")
def test_the_ledgers_canonical_form_of_small_floats_is_rfc_8785():
    assert canonical_bytes(6.103515625e-05) == b"0.00006103515625"


def test_standalone_jcs_sorts_keys_by_utf16_code_units_and_escapes_as_rfc_8785():
    tool = load_standalone_verifier()
    # RFC 8785 section 3.2.3: sorting.
    value = {
        "\u20ac": "Euro",
        "\r": "CR",
        "\ufb33": "Hebrew",
        "1": "One",
        "\U0001f600": "Emoji",
        "\x80": "Ctl",
        "\xf6": "Latin",
    }
    expected = (
        '{"\\r":"CR","1":"One","\x80":"Ctl","\xf6":"Latin","\u20ac":"Euro","\U0001f600":"Emoji",'
        '"\ufb33":"Hebrew"}'
    )
    assert tool.jcs(value) == expected.encode() == canonical_bytes(value)
    assert tool.jcs('\x00\x1f"\\/\u2028\b\t\n\f\r') == b'"\\u0000\\u001f\\"\\\\/\xe2\x80\xa8\\b\\t\\n\\f\\r"'
    with pytest.raises(tool.VerificationError):
        tool.jcs("\ud800")
    with pytest.raises(tool.VerificationError):
        tool.jcs(math.nan)


_keys = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_standalone_jcs_agrees_with_the_ledgers_canonical_form_on_every_leaf_value(value: Any):
    """A leaf, an encrypted value and its commitment are all the ledger's canonical text of the value:
    what a verifier parses is that text, and its canonical form must give the same bytes back."""
    stored = json.loads(canonical_bytes(value))
    assert load_standalone_verifier().jcs(stored) == canonical_bytes(stored) == canonical_bytes(value)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_batched_inclusion_proofs_equal_one_proof_at_a_time(size: int, data: st.DataObject):
    source = MemoryHashSource()
    from ledger.log.tree import Frontier

    frontier = Frontier()
    for i in range(size):
        source.write(frontier.append(leaf_hash(i.to_bytes(4, "big"))))
    indexes = data.draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=20))
    assert inclusion_proofs(indexes, size, source) == [inclusion_proof(i, size, source) for i in indexes]
    assert NodeID(0, 0).begin == 0 and node_hash(b"\0" * 32, b"\0" * 32)


def test_instants_are_ordered_at_microseconds_as_the_ledger_computes_them():
    from ledger.domain.timeutil import canonical_timestamp

    tool = load_standalone_verifier()
    for text in (
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T00:30:00.123456789Z",
        "2026-12-31t23:59:59.9-00:30",
    ):
        assert tool.instant(text) == canonical_timestamp(text)
    with pytest.raises(tool.VerificationError):
        tool.instant("2026-02-30T00:00:00Z")
