"""Audio file loading with clear errors: unreadable, empty, non-audio, NaN; mix-down; resampling."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

__all__ = ["AudioFileError", "load_audio", "AUDIO_EXTENSIONS"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3", ".opus")


class AudioFileError(ValueError):
    """An audio file that cannot be used; the message names the file and the reason."""


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32, resampled to ``sample_rate`` (soxr, high quality).

    Multi-channel audio is averaged to mono with a warning.

    Args:
        path: any format libsndfile reads (WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF, ...).
        sample_rate: target rate in Hz; ``None`` keeps the file's rate.

    Returns:
        ``(time,)`` float32 array and its sampling rate.

    Raises:
        FileNotFoundError: the path does not exist.
        AudioFileError: unreadable or non-audio file, no samples, NaN/Inf samples.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: empty file (0 bytes)")
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioFileError(f"{path}: not a readable audio file ({e})") from e
    if x.shape[0] == 0:
        raise AudioFileError(f"{path}: audio has no samples")
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argwhere(bad)[0, 0])
        raise AudioFileError(
            f"{path}: {int(bad.sum())} NaN/Inf samples (first at sample {first}, {first / sr:.3f} s)"
        )
    if x.shape[1] > 1:
        warnings.warn(f"{path}: {x.shape[1]} channels mixed down to mono", stacklevel=2)
    x = x.mean(axis=1)
    if sample_rate is not None and sample_rate != sr:
        x = soxr.resample(x, sr, sample_rate, quality="HQ").astype(np.float32)
        sr = sample_rate
    return np.ascontiguousarray(x), int(sr)
