"""Data: loading audio with clear errors, f0/loudness analysis, cached preparation, datasets.

Submodules are imported on first use, so ``python -m ddsp.data.prepare`` runs cleanly and only
``SpeechDataModule`` needs Lightning.
"""

from .._extras import require

require("train", "ddsp.data", "soundfile", "soxr", "pyworld", "tqdm")

# ruff: noqa: E402

from importlib import import_module

_WHERE = {
    "AudioFileError": "audio",
    "load_audio": "audio",
    "extract_f0": "f0",
    "PrepConfig": "prepare",
    "prepare": "prepare",
    "SegmentDataset": "dataset",
    "SpeechDataModule": "datamodule",
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
