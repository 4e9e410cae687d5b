"""Command-line conventions shared by ``python -m ddsp.resynth``, ``ddsp.evaluate``,
``ddsp.data.prepare`` and ``train.py``: a user error (a missing file, a bad value, a file that
is not audio or not a checkpoint) prints one line that says what to change and exits with 2;
``DDSP_DEBUG=1`` shows the traceback instead. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

USER_ERRORS = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ValueError,
)


def run(prog: str, main: Callable[[], T]) -> T:
    """Call ``main()``; a user error becomes ``prog: error: message`` on stderr and exit 2."""
    try:
        return main()
    except USER_ERRORS as e:
        if os.environ.get("DDSP_DEBUG"):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def positive(name: str) -> Callable[[str], float]:
    """An ``argparse`` type: a float > 0 (``--f0-scale 0`` says which flag and why)."""

    def parse(text: str) -> float:
        value = float(text)
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {text}")
        return value

    return parse


def writable_file(path: str, kinds: tuple[str, ...] = ()) -> None:
    """Fail before any work when ``path`` cannot be written: its folder must exist, and its
    extension be one of ``kinds`` when given."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: the folder {folder} does not exist (create it first)")
    if kinds and os.path.splitext(path)[1].lower() not in kinds:
        raise ValueError(f"{path}: unsupported file type; use one of {', '.join(kinds)}")
