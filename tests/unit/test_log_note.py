"""C2SP signed notes with Ed25519: the specification's known answer, signing, and malformed notes.

Every acceptance and rejection is checked with both ``ledger.log.note`` and the standalone verifier.
"""

from __future__ import annotations

import base64

import pytest
from conftest import load_standalone_verifier

from ledger.log.errors import NoteError
from ledger.log.note import (
    MAX_SIGNATURES,
    Signature,
    SignerKey,
    VerifierKey,
    ed25519_key_id,
    is_valid_key_name,
    open_note,
    sign_note,
)

# c2sp.org/signed-note v1.0.0, "Example" (also in shared/vectors/README.md).
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_TEXT = "This is an example message.\n"
SPEC_SIGNATURE = (
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
)
SPEC_NOTE = f"{SPEC_TEXT}\n\u2014 example.com/foo {SPEC_SIGNATURE}\n"


def accepted_by_both(note: str | bytes, vkey: str) -> str:
    """The verified text; both implementations must agree that the note verifies."""
    data = note.encode() if isinstance(note, str) else note
    text = open_note(data, [VerifierKey.parse(vkey)]).text
    assert load_standalone_verifier().verify_note(data, vkey) == text
    return text


def rejected_by_both(note: str | bytes, vkey: str) -> None:
    data = note.encode() if isinstance(note, str) else note
    tool = load_standalone_verifier()
    with pytest.raises(NoteError):
        open_note(data, [VerifierKey.parse(vkey)])
    with pytest.raises(tool.VerificationError):
        tool.verify_note(data, vkey)


def test_specification_example_note_verifies_with_its_verifier_key() -> None:
    key = VerifierKey.parse(SPEC_VKEY)
    assert (key.name, key.key_id) == ("example.com/foo", 0x530D903A)
    assert ed25519_key_id(key.name, key.public_key) == 0x530D903A
    assert key.text == SPEC_VKEY
    assert accepted_by_both(SPEC_NOTE, SPEC_VKEY) == SPEC_TEXT
    note = open_note(SPEC_NOTE, [key])
    assert [(s.name, s.key_id) for s in note.verified] == [("example.com/foo", 0x530D903A)]
    assert note.verified[0].line == SPEC_NOTE.splitlines()[-1]


@pytest.mark.parametrize("position", range(len(SPEC_TEXT) - 1))
def test_changing_any_character_of_the_text_breaks_the_signature(position: int) -> None:
    altered = SPEC_TEXT[:position] + ("X" if SPEC_TEXT[position] != "X" else "Y") + SPEC_TEXT[position + 1 :]
    rejected_by_both(SPEC_NOTE.replace(SPEC_TEXT, altered), SPEC_VKEY)


@pytest.mark.parametrize("position", range(68))
def test_changing_any_byte_of_the_signature_breaks_it(position: int) -> None:
    raw = bytearray(base64.b64decode(SPEC_SIGNATURE))
    raw[position] ^= 0x01
    # A changed key id (bytes 0-3) names an unknown key: the note then has no known signature.
    rejected_by_both(SPEC_NOTE.replace(SPEC_SIGNATURE, base64.b64encode(raw).decode()), SPEC_VKEY)


def test_a_note_signed_by_a_new_signer_verifies_with_its_verifier_key() -> None:
    signer = SignerKey.generate("ledger.example.com/log")
    vkey = signer.verifier_key
    assert vkey.key_id == ed25519_key_id(signer.name, vkey.public_key)
    assert VerifierKey.parse(vkey.text) == vkey
    note = sign_note("Tree head\nof the ledger\n", [signer])
    assert accepted_by_both(note, vkey.text) == "Tree head\nof the ledger\n"
    assert note.endswith("\n") and "\n\n\u2014 ledger.example.com/log " in note


def test_signer_key_text_round_trips_and_never_shows_in_repr() -> None:
    signer = SignerKey.generate("ledger.example.com/log")
    secret = signer.secret_text()
    assert secret.startswith(f"PRIVATE+KEY+ledger.example.com/log+{signer.key_id:08x}+")
    again = SignerKey.parse(secret)
    assert again.verifier_key == signer.verifier_key
    assert secret.split("+", 4)[4] not in repr(signer)
    message = b"same key, same signature\n"
    assert again.sign(message) == signer.sign(message)  # Ed25519 is deterministic


def test_key_texts_whose_base64_contains_a_plus_sign_parse() -> None:
    signer = SignerKey("ledger.example.com/log", bytes([62]) * 32)  # a fixed test-only seed
    vkey = "ledger.example.com/log+172c368d+Aflcal3/Ax+sexpqVLZhDK64Ozn36KZr4W/1+qSlEe0t"
    assert signer.verifier_key.text == vkey
    assert VerifierKey.parse(vkey) == signer.verifier_key
    assert SignerKey.parse(signer.secret_text()).verifier_key == signer.verifier_key
    accepted_by_both(sign_note("checkpoint\n", [signer]), vkey)


def test_unknown_keys_are_ignored_and_a_known_signature_is_required() -> None:
    log = SignerKey.generate("ledger.example.com/log")
    witness = SignerKey.generate("witness.example.com")
    note = sign_note("checkpoint\n", [witness, log])
    opened = open_note(note, [log.verifier_key])
    assert [s.name for s in opened.verified] == [log.name]
    assert [s.name for s in opened.unverified] == [witness.name]
    accepted_by_both(note, log.verifier_key.text)
    rejected_by_both(sign_note("checkpoint\n", [witness]), log.verifier_key.text)


def test_a_key_sharing_only_the_name_or_only_the_id_of_a_trusted_key_is_unknown() -> None:
    log = SignerKey.generate("ledger.example.com/log")
    impostor = SignerKey.generate("ledger.example.com/log")  # same name, other key id
    assert impostor.key_id != log.key_id
    rejected_by_both(sign_note("checkpoint\n", [impostor]), log.verifier_key.text)
    accepted_by_both(sign_note("checkpoint\n", [impostor, log]), log.verifier_key.text)


def test_a_failing_signature_by_a_trusted_key_rejects_the_whole_note() -> None:
    log = SignerKey.generate("ledger.example.com/log")
    good = sign_note("checkpoint\n", [log])
    forged = Signature(log.name, log.key_id, bytes(64)).line + "\n"
    rejected_by_both(good + forged, log.verifier_key.text)


def _spec_note_with(signature_lines: str) -> str:
    return SPEC_TEXT + "\n" + signature_lines


MALFORMED_NOTES = {
    "no final newline": SPEC_NOTE[:-1],
    "no blank line": SPEC_NOTE.replace("\n\n", "\n"),
    "no signature": SPEC_TEXT + "\n",
    "hyphen instead of em dash": SPEC_NOTE.replace("\u2014", "-"),
    "no space after the em dash": SPEC_NOTE.replace("\u2014 ", "\u2014"),
    "signature not base64": SPEC_NOTE.replace(SPEC_SIGNATURE, "not*base64"),
    "signature without padding": SPEC_NOTE.replace(SPEC_SIGNATURE, SPEC_SIGNATURE.rstrip("=")),
    "signature of 4 bytes": _spec_note_with("\u2014 example.com/foo Uw2QOg==\n"),
    "carriage return in the text": SPEC_NOTE.replace("example message", "example\rmessage"),
    "tab in the text": SPEC_NOTE.replace("example message", "example\tmessage"),
    "key name with a plus": SPEC_NOTE + f"\u2014 example.com+foo {SPEC_SIGNATURE}\n",
    "empty line among signatures": SPEC_NOTE + "\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NOTES))
def test_malformed_notes_are_rejected(case: str) -> None:
    rejected_by_both(MALFORMED_NOTES[case], SPEC_VKEY)


def test_a_note_that_is_not_utf8_is_rejected() -> None:
    rejected_by_both(SPEC_NOTE.encode().replace(b"example message", b"example \xff message"), SPEC_VKEY)
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(
            SPEC_NOTE.replace("example message", "example \ud800 message"), [VerifierKey.parse(SPEC_VKEY)]
        )


def test_the_last_blank_line_separates_text_from_signatures() -> None:
    signer = SignerKey.generate("ledger.example.com/log")
    text = "first paragraph\n\nsecond paragraph\n"
    assert accepted_by_both(sign_note(text, [signer]), signer.verifier_key.text) == text


def test_too_many_signatures_are_rejected() -> None:
    log = SignerKey.generate("ledger.example.com/log")
    others = [SignerKey.generate(f"witness{i}.example.com") for i in range(MAX_SIGNATURES)]
    with pytest.raises(NoteError, match="more than"):
        open_note(sign_note("checkpoint\n", [*others, log]), [log.verifier_key])
    assert open_note(sign_note("checkpoint\n", [*others[1:], log]), [log.verifier_key]).text == "checkpoint\n"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com/foo", True),
        ("ledger.example.com/log-1", True),
        ("caf\u00e9.example.com", True),
        ("", False),
        ("example.com foo", False),
        ("example.com+foo", False),
        ("example.com\u00a0foo", False),
        ("example.com\u3000foo", False),
        ("example.com\x01foo", False),
    ],
)
def test_key_names_are_non_empty_without_spaces_or_plus(name: str, valid: bool) -> None:
    assert is_valid_key_name(name) is valid


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903a",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+extra",
    ],
    ids=["no key", "uppercase id", "wrong id", "other name", "other algorithm", "short key", "four parts"],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(vkey)
    with pytest.raises(load_standalone_verifier().VerificationError):
        load_standalone_verifier().verify_note(SPEC_NOTE.encode(), vkey)


def test_a_signer_key_whose_id_does_not_match_is_refused() -> None:
    secret = SignerKey.generate("ledger.example.com/log").secret_text()
    private, key, name, key_id, seed = secret.split("+", 4)
    wrong = f"{int(key_id, 16) ^ 1:08x}"
    with pytest.raises(NoteError, match="does not match"):
        SignerKey.parse(f"{private}+{key}+{name}+{wrong}+{seed}")
    with pytest.raises(NoteError):
        SignerKey.parse(secret.replace("PRIVATE+KEY", "PRIVATE+KEYS"))


def test_signing_refuses_text_without_final_newline_or_with_control_characters() -> None:
    signer = SignerKey.generate("ledger.example.com/log")
    for text in ["no newline", "tab\there\n"]:
        with pytest.raises(NoteError):
            sign_note(text, [signer])
