"""Spectral front-ends: functional core (:mod:`ddsp.spectral.functional`) and thin modules.

Imports nothing but torch. Every module takes ``(..., time)`` audio (any number of batch
dimensions) and returns ``(..., freq, frames)``.
"""

from . import functional
from .cqt import CQT, VQT, GriffinLimCQT, InverseCQT, InverseVQT
from .gammatone import Gammatonegram
from .griffinlim import GriffinLim
from .loudness import a_weighted_loudness, butterworth_highpass, frame_rms
from .mel import LogMelSpectrogram, MelSpectrogram
from .mfcc import MFCC
from .spectrogram import Spectrogram
from .stft import ISTFT, STFT

__all__ = [
    "functional",
    "STFT",
    "ISTFT",
    "Spectrogram",
    "MelSpectrogram",
    "LogMelSpectrogram",
    "MFCC",
    "CQT",
    "VQT",
    "InverseCQT",
    "InverseVQT",
    "GriffinLimCQT",
    "Gammatonegram",
    "GriffinLim",
    "a_weighted_loudness",
    "frame_rms",
    "butterworth_highpass",
]
