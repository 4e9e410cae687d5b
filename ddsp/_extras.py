"""One-line errors for optional dependencies: a module of the training pipeline imported in a
lean install (``pip install ddsp-lpc``, the wings only) says which extra brings what it needs."""

from __future__ import annotations

import importlib.util


def require(extra: str, what: str, *modules: str) -> None:
    """Raise ``ImportError`` naming ``extra`` when any of ``modules`` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"{what} needs the '{extra}' extra (missing: {', '.join(missing)}): "
            f"pip install 'ddsp-lpc[{extra}]'"
        )
