"""Private files and folders: the ledger's folder, database and key files are created owner-only.

``mkdir(mode=...)`` and ``open(..., mode)`` are filtered by the process umask, which may be anything
(000 or 022 commonly), so every new folder or file is also ``chmod``-ed to its exact mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = [
    "create_private_file",
    "make_private_dir",
    "open_to_others",
    "read_only_location",
    "read_secret_file",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) if absent; the folder itself is created mode 0700.

    An existing folder is left as it is (an operator may have chosen its mode).
    """
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        return  # created meanwhile by another process
    os.chmod(path, PRIVATE_DIR_MODE)


def create_private_file(path: Path, content: bytes = b"") -> bool:
    """Create ``path`` mode 0600 holding ``content``; False (and nothing written) if it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        if content:
            os.write(fd, content)
    finally:
        os.close(fd)
    return True


def read_only_location(path: Path) -> bool:
    """True when ``path`` (an existing file) or its folder must not be written to.

    Either the process may not write there, or no write bit is set at all (``chmod 0444`` file or
    ``0555`` folder): an operator's "read only" is honoured even by root, whom permissions do not stop.
    """
    for target in (path, path.parent):
        try:
            mode = target.stat().st_mode
        except OSError:
            return True
        if not os.access(target, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return True
    return False


def open_to_others(path: Path, mode: int, what: str) -> str | None:
    """Why a secret file of ``mode`` must be refused (group or others have some access), or None.

    The reason names the file and the fix (``chmod 600``); ``what`` says which file it is.
    """
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    return (
        f"the {what} {path} is open to group or others (mode {stat.S_IMODE(mode):04o}); "
        f"run `chmod 600 {path}`"
    )


def read_secret_file(path: Path, what: str, setting: str, error: type[Exception]) -> str:
    """The text of the secret file ``path``, or ``error`` if it cannot be read or is open to others.

    ``what`` says which file it is (``"master key file"``) and ``setting`` the variable naming it.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise error(f"cannot read the {what} {path} ({setting})") from exc
    problem = open_to_others(path, mode, what)
    if problem is not None:
        raise error(problem)
    return text
