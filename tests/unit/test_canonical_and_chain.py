"""RFC 8785 canonical JSON and the chain hash (spec 3.4), without a database."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import _emit, canonical_json, canonical_members, join_members
from ledger.store.chain import GENESIS_HASH, chained_bytes, record_hash


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


_records = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in {"prev_hash", "seq"}),
    _json_values | st.floats(allow_nan=False, allow_infinity=False),
    max_size=12,
)


@given(_records, st.integers(1, 2**40), st.text("0123456789abcdef", min_size=64, max_size=64))
def test_records_encoded_once_give_the_jcs_of_the_record_and_of_the_chained_record(
    record: dict[str, object], seq: int, prev: str
):
    # The append path encodes a stored record once and cuts it where the chain's members go: the
    # stored form and the hashed bytes must be exactly what the general JCS writer gives.
    pieces = canonical_members(record, around=("prev_hash", "seq"))
    if pieces is None:  # floats or non-ASCII keys: the append path takes the general path
        return
    before, between, after = pieces
    assert join_members(pieces) == canonical_json(record)
    chained = join_members([before, f'"prev_hash":"{prev}"', between, f'"seq":{seq}', after])
    assert chained.encode() == chained_bytes(record, seq, prev)


def test_records_with_floats_non_ascii_keys_or_chain_members_are_not_cut():
    around = ("prev_hash", "seq")
    assert canonical_members({"a": 1.5}, around=around) is None
    assert canonical_members({"payload": {"\u00e9": 1}}, around=around) is None
    assert canonical_members({"seq": 3}, around=around) is None
    assert canonical_members({"a": [1, {"b": None}], "z": True}, around=around) == [
        '"a":[1,{"b":null}]',
        "",
        '"z":true',
    ]


@given(_json_values)
def test_a_sealed_value_holds_the_jcs_of_its_salt_and_value_and_its_commitment_binds_them(value: object):
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ledger.store.crypto import NONCE_BYTES, commitment, seal_value

    aead = AESGCM(b"k" * 32)
    enc, c = seal_value(aead, value, b"aad")
    blob = base64.b64decode(enc)
    plaintext = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], b"aad")
    opened = json.loads(plaintext)
    assert plaintext.decode() == canonical_json({"s": opened["s"], "v": value})
    assert c == commitment(base64.b64decode(opened["s"]), value)
