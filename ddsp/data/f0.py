"""f0 and voicing (re-exported from :mod:`ddsp.f0`, where data, metrics and synthesis share it)."""

from ..f0 import extract_f0

__all__ = ["extract_f0"]
