"""A directory that nobody can write into, root included: `chattr +i` makes it immutable."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import subprocess
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def immutable_directory(path: pathlib.Path) -> Iterator[pathlib.Path]:
    """Make `path` (created if missing) immutable for the duration of the block.

    Permission bits do not stop root, which the tests may run as; the immutable attribute does.
    Skip the test where `chattr` is missing or the file system has no such attribute.
    """
    path.mkdir(parents=True, exist_ok=True)
    make_immutable(path)
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def make_immutable(path: pathlib.Path) -> None:
    """Run `chattr +i` on `path`; skip the test where that is not possible."""
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr (e2fsprogs) to make a directory unwritable")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip(f"cannot make {path} immutable on this file system")


def make_writable(path: pathlib.Path) -> None:
    """Undo `chattr +i` on `path`, for a directory made immutable in the middle of a test."""
    subprocess.run(["chattr", "-i", str(path)], check=True)
