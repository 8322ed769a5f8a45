"""The transparency log: RFC 9162 Merkle tree, C2SP signed notes, checkpoints and proofs.

- ``merkle``: leaf and node hashes, the MTH, inclusion and consistency proof verification (pure).
- ``tree``: stored complete-subtree hashes (``NodeID``, ``HashSource``), the integrator's ``Frontier``,
  roots and proofs read from storage.
- ``note``: C2SP signed-note v1 with Ed25519 (key texts compatible with Go's ``sumdb/note``).
- ``checkpoint``, ``tlog_proof``: the C2SP tlog-checkpoint body and tlog-proof text formats.
- ``storage``: the tree in the ledger's database (``ledger_tree``); ``checkpoints``: the issued
  checkpoints (``ledger_checkpoints``); ``issue``: signing one, never one that does not extend the last;
  ``signing``: the signing key file; ``witness``: the copy kept outside the database; ``prove``: proofs
  from the stored tree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
    from ledger.log.errors import FormatError, LogError, NoteError, ProofError
    from ledger.log.merkle import (
        EMPTY_ROOT,
        HASH_SIZE,
        leaf_hash,
        merkle_tree_hash,
        node_hash,
        verify_consistency,
        verify_inclusion,
    )
    from ledger.log.note import Note, SignerKey, VerifierKey, open_note, sign_note
    from ledger.log.tlog_proof import TlogProof, verify_tlog_proof
    from ledger.log.tree import (
        Frontier,
        HashSource,
        MemoryHashSource,
        NodeID,
        consistency_proof,
        inclusion_proof,
        tree_root,
    )

# The names below, imported from their module when first used: importing one module of the package
# (the Merkle hashes, say) does not import the others (Ed25519 signing, proof formats).
_MODULES = {
    "checkpoint": ("Checkpoint", "open_checkpoint", "sign_checkpoint"),
    "errors": ("FormatError", "LogError", "NoteError", "ProofError"),
    "merkle": (
        "EMPTY_ROOT",
        "HASH_SIZE",
        "leaf_hash",
        "merkle_tree_hash",
        "node_hash",
        "verify_consistency",
        "verify_inclusion",
    ),
    "note": ("Note", "SignerKey", "VerifierKey", "open_note", "sign_note"),
    "tlog_proof": ("TlogProof", "verify_tlog_proof"),
    "tree": (
        "Frontier",
        "HashSource",
        "MemoryHashSource",
        "NodeID",
        "consistency_proof",
        "inclusion_proof",
        "tree_root",
    ),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "FormatError",
    "Frontier",
    "HashSource",
    "LogError",
    "MemoryHashSource",
    "NodeID",
    "Note",
    "NoteError",
    "ProofError",
    "SignerKey",
    "TlogProof",
    "VerifierKey",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle_tree_hash",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
    "sign_note",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_tlog_proof",
]
