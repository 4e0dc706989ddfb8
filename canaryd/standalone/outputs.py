"""Output files of a rollout (record, HTML report, JSON summary): checked before the rollout starts.

Layer 3 (engine). A rollout takes minutes, so `canaryd run --standalone`, `canaryd demo` and
`canaryd report` check every output path first and stop with a message naming the option, the path
and the OS error before any process starts or any traffic moves.
"""

from __future__ import annotations

import pathlib
import tempfile


class OutputPathError(Exception):
    """An output file cannot be written; the message names the option, the path and the OS error."""


def check_writable(path: pathlib.Path, *, option: str) -> None:
    """Create the parent directory of `path` if it is missing and check that `path` can be written.

    `option` names the setting that chose the path (`--json`, `the record`) in the error message.
    Raise `OutputPathError` when the path cannot be written.
    """
    if path.is_dir():
        raise OutputPathError(f"cannot write {option} file {path}: it is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Creating a file is the only reliable test: root passes every permission check, yet still
        # cannot write on a read-only file system or into an immutable directory. The record is
        # replaced through a temporary file beside it, so the directory itself must be writable.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=True):
            pass
        if path.exists():
            # Opening for append changes neither the content nor the modification time.
            with path.open("a"):
                pass
    except OSError as error:
        raise OutputPathError(describe_failure(path, option=option, error=error)) from error


def describe_failure(path: pathlib.Path, *, option: str, error: OSError) -> str:
    """Return one line saying that `option`'s file `path` could not be written, and why."""
    cause = error.strerror or str(error)
    return f"cannot write {option} file {path}: {cause}; choose another path or make its directory writable"
