"""C2SP tlog-checkpoint bodies (both implementations) and tlog-proof texts: format, parse, verify."""

from __future__ import annotations

import base64

import pytest
from conftest import load_standalone_verifier

from ledger.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.log.errors import FormatError, NoteError, ProofError
from ledger.log.merkle import EMPTY_ROOT, leaf_hash
from ledger.log.note import SignerKey, open_note, sign_note
from ledger.log.tlog_proof import TlogProof, verify_tlog_proof
from ledger.log.tree import Frontier, MemoryHashSource, inclusion_proof

ORIGIN = "ledger.example.com/log"
# c2sp.org/tlog-checkpoint, the specification's example body.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
# c2sp.org/tlog-proof, the specification's example (its signatures abridged there, so not verifiable).
SPEC_PROOF = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

\u2014 example.com/fancylog hI2DJw[...]1roloI=
"""


def test_specification_checkpoint_body_parses_with_both_implementations() -> None:
    checkpoint = Checkpoint.parse(SPEC_BODY)
    assert checkpoint == Checkpoint("example.com/behind-the-sofa", 20852163, SPEC_ROOT)
    assert checkpoint.to_text() == SPEC_BODY
    standalone = load_standalone_verifier().parse_checkpoint(SPEC_BODY)
    assert (standalone.origin, standalone.size, standalone.root, standalone.extensions) == (
        "example.com/behind-the-sofa",
        20852163,
        SPEC_ROOT,
        (),
    )


def test_checkpoint_with_extension_lines_and_the_empty_tree_round_trips() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("extension one", "extension two"))
    text = checkpoint.to_text()
    assert text.splitlines()[1:2] == ["0"] and text.endswith("extension two\n")
    assert Checkpoint.parse(text) == checkpoint
    assert load_standalone_verifier().parse_checkpoint(text).extensions == ("extension one", "extension two")


MALFORMED_BODIES = {
    "leading zero in size": SPEC_BODY.replace("20852163", "020852163"),
    "signed size": SPEC_BODY.replace("20852163", "+20852163"),
    "negative size": SPEC_BODY.replace("20852163", "-1"),
    "size with a space": SPEC_BODY.replace("20852163", "20852163 "),
    "non-ASCII digit": SPEC_BODY.replace("20852163", "2085216\u0663"),
    "size beyond 64 bits": SPEC_BODY.replace("20852163", str(2**64)),
    "root of 31 bytes": SPEC_BODY.replace(
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", base64.b64encode(SPEC_ROOT[:31]).decode()
    ),
    "root in non-canonical base64": SPEC_BODY.replace("jxq2I=", "jxq2J="),
    "root in URL-safe base64": SPEC_BODY.replace("om/X", "om_X"),
    "no final newline": SPEC_BODY[:-1],
    "two lines": "example.com/behind-the-sofa\n20852163\n",
    "empty origin": SPEC_BODY.replace("example.com/behind-the-sofa", ""),
    "empty extension line": SPEC_BODY + "\nextension\n",
    "control character in origin": SPEC_BODY.replace("behind-the-sofa", "behind\tthe-sofa"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_malformed_checkpoint_bodies_are_rejected_by_both(case: str) -> None:
    tool = load_standalone_verifier()
    with pytest.raises(FormatError):
        Checkpoint.parse(MALFORMED_BODIES[case])
    with pytest.raises(tool.VerificationError):
        tool.parse_checkpoint(MALFORMED_BODIES[case])


def test_largest_tree_size_is_accepted() -> None:
    body = SPEC_BODY.replace("20852163", str(2**64 - 1))
    assert Checkpoint.parse(body).size == 2**64 - 1
    assert load_standalone_verifier().parse_checkpoint(body).size == 2**64 - 1


def test_signed_checkpoint_opens_with_the_log_key_only() -> None:
    log, other = SignerKey.generate(ORIGIN), SignerKey.generate(ORIGIN)
    checkpoint = Checkpoint(ORIGIN, 7, leaf_hash(b"fictional record"))
    signed = sign_checkpoint(checkpoint, log)
    assert open_checkpoint(signed, log.verifier_key, origin=ORIGIN) == checkpoint
    tool = load_standalone_verifier()
    assert tool.parse_checkpoint(tool.verify_note(signed.encode(), log.verifier_key.text)).size == 7
    with pytest.raises(NoteError):
        open_checkpoint(signed, other.verifier_key)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(signed, log.verifier_key, origin="other.example.com/log")


def test_witness_cosignatures_on_a_checkpoint_are_ignored() -> None:
    log, witness = SignerKey.generate(ORIGIN), SignerKey.generate("witness.example.com")
    checkpoint = Checkpoint(ORIGIN, 1, leaf_hash(b"fictional record"))
    cosigned = sign_note(checkpoint.to_text(), [log, witness])
    assert open_checkpoint(cosigned, log.verifier_key) == checkpoint
    assert [s.name for s in open_note(cosigned, [log.verifier_key]).unverified] == ["witness.example.com"]


def _log(size: int) -> tuple[MemoryHashSource, list[bytes], Frontier]:
    source, frontier = MemoryHashSource(), Frontier()
    leaves = [leaf_hash(f"fictional record {i}".encode()) for i in range(size)]
    source.write(frontier.extend(leaves))
    return source, leaves, frontier


def test_tlog_proof_of_a_stored_entry_verifies_against_its_signed_checkpoint() -> None:
    log = SignerKey.generate(ORIGIN)
    source, leaves, frontier = _log(13)
    signed = sign_checkpoint(Checkpoint(ORIGIN, 13, frontier.root()), log)
    proof = TlogProof(5, tuple(inclusion_proof(5, 13, source)), signed)
    parsed = TlogProof.parse(proof.to_text())
    assert parsed == proof
    assert verify_tlog_proof(parsed, leaves[5], log.verifier_key, origin=ORIGIN).size == 13
    with pytest.raises(ProofError):
        verify_tlog_proof(parsed, leaves[6], log.verifier_key)
    with pytest.raises(ProofError):
        verify_tlog_proof(TlogProof(6, proof.proof, signed), leaves[5], log.verifier_key)
    with pytest.raises(NoteError):
        verify_tlog_proof(parsed, leaves[5], SignerKey.generate(ORIGIN).verifier_key)


def test_tlog_proof_extra_data_round_trips_and_is_optional() -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1, leaf_hash(b"x")), SignerKey.generate(ORIGIN))
    with_extra = TlogProof(0, (), signed, extra=b"\x00application data")
    text = with_extra.to_text()
    assert text.splitlines()[:3] == ["c2sp.org/tlog-proof@v1", "extra AGFwcGxpY2F0aW9uIGRhdGE=", "index 0"]
    assert TlogProof.parse(text) == with_extra
    without = TlogProof(0, (), signed)
    assert without.to_text() == f"c2sp.org/tlog-proof@v1\nindex 0\n\n{signed}"
    assert TlogProof.parse(without.to_text()) == without


def test_specification_tlog_proof_example_parses() -> None:
    proof = TlogProof.parse(SPEC_PROOF)
    assert proof.index == 73894
    assert len(proof.proof) == 5
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.checkpoint.startswith("example.com/fancylog\n109482\n")
    assert proof.to_text() == SPEC_PROOF


HASH = base64.b64encode(bytes(32)).decode()
SHORT_HASH = base64.b64encode(bytes(31)).decode()
MALFORMED_PROOFS = {
    "other header": "c2sp.org/tlog-proof@v2\nindex 3\n\ncheckpoint\n",
    "no index line": "c2sp.org/tlog-proof@v1\n\ncheckpoint\n",
    "index with leading zero": "c2sp.org/tlog-proof@v1\nindex 03\n\ncheckpoint\n",
    "index not decimal": "c2sp.org/tlog-proof@v1\nindex three\n\ncheckpoint\n",
    "empty extra": "c2sp.org/tlog-proof@v1\nextra \nindex 3\n\ncheckpoint\n",
    "extra after index": "c2sp.org/tlog-proof@v1\nindex 3\nextra AA==\n\ncheckpoint\n",
    "hash of 31 bytes": f"c2sp.org/tlog-proof@v1\nindex 3\n{SHORT_HASH}\n\ncheckpoint\n",
    "no blank line before the checkpoint": f"c2sp.org/tlog-proof@v1\nindex 3\n{HASH}\n",
    "no checkpoint": f"c2sp.org/tlog-proof@v1\nindex 3\n{HASH}\n\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_PROOFS))
def test_malformed_tlog_proofs_are_rejected(case: str) -> None:
    with pytest.raises(FormatError):
        TlogProof.parse(MALFORMED_PROOFS[case])
