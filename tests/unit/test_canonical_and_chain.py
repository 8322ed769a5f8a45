"""RFC 8785 canonical JSON and the chain hash (spec 3.4), without a database."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import _emit, canonical_json
from ledger.store.chain import GENESIS_HASH, record_hash


def test_jcs_sorts_keys_and_drops_whitespace():
    assert canonical_json({"b": 1, "a": [True, None, "x"]}) == '{"a":[true,null,"x"],"b":1}'


def test_jcs_sorts_keys_by_utf16_code_units_not_code_points():
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB01 although its code point is larger.
    keys = {"\ufb01": 1, "\U0001f600": 2}
    assert canonical_json(keys) == '{"\U0001f600":2,"\ufb01":1}'


@pytest.mark.parametrize(
    ("number", "text"),
    [(1.0, "1"), (0.5, "0.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (-0.0, "0"), (123.456, "123.456")],
)
def test_jcs_formats_numbers_as_ecmascript(number: float, text: str):
    assert canonical_json(number) == text


def test_jcs_keeps_non_ascii_text_unescaped():
    assert canonical_json("Zoë") == '"Zoë"'


def test_jcs_rejects_nan():
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_chain_hash_is_sha256_of_the_canonical_record_with_seq_and_prev_hash():
    record = {"event_id": "e1", "payload": {"x": 1}, "recorded_at": "2026-11-01T12:00:00.000000Z"}
    expected = hashlib.sha256(
        json.dumps(
            {**record, "prev_hash": GENESIS_HASH, "seq": 1},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    assert record_hash(record, 1, GENESIS_HASH) == expected
    assert record_hash(record, 2, GENESIS_HASH) != expected
    assert record_hash(record, 1, "1" * 64) != expected


def test_genesis_prev_hash_is_64_zeros():
    assert GENESIS_HASH == "0" * 64


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_values)
def test_fast_path_writes_the_same_bytes_as_the_general_jcs_writer(value: object):
    parts: list[str] = []
    _emit(value, parts)
    assert canonical_json(value) == "".join(parts)
