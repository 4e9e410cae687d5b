"""Spectral front-ends: functional core (:mod:`ddsp.spectral.functional`) and modules.

Imports nothing but torch.
"""

from . import functional
from .loudness import a_weighted_loudness
from .mel import LogMelSpectrogram, MelSpectrogram
from .spectrogram import Spectrogram

__all__ = [
    "functional",
    "Spectrogram",
    "MelSpectrogram",
    "LogMelSpectrogram",
    "a_weighted_loudness",
]
