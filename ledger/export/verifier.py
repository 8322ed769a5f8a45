"""The offline verifier, run from the ledger: the standalone ``tools/verify_export.py`` itself.

The checks are written once, in that single file a regulator's engineer reads and runs (it imports only
the standard library and ``cryptography``). ``privacy-ledger verify-export`` loads that file and runs
its ``main``, so the ledger never has a second, possibly different, idea of what a valid bundle is. The
package ships that file as ``ledger/_data/verify_export.py`` (in the repository a link to the tool).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ledger._data import data_path
from ledger.errors import LedgerError

__all__ = ["VERIFIER_PATH", "load_standalone_verifier"]

VERIFIER_PATH = data_path("verify_export.py").resolve()
_MODULE = "privacy_ledger_standalone_verifier"


def load_standalone_verifier(path: Path = VERIFIER_PATH) -> ModuleType:
    """``tools/verify_export.py`` as a module (loaded once)."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    spec = importlib.util.spec_from_file_location(_MODULE, path) if path.is_file() else None
    if spec is None or spec.loader is None:
        raise LedgerError(
            f"the standalone verifier {path} is not there: verify-export runs the copy of "
            "tools/verify_export.py that the ledger's package ships"
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE]
        raise
    return module
