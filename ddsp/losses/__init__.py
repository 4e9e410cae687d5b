"""Spectral losses. Imports nothing heavier than torch and :mod:`ddsp.spectral`.

Time-domain losses (auraloss's) are in :mod:`ddsp.losses.time`, imported on demand.
"""

from .level import BandLevelLoss, CombinedLoss, FrameLevelLoss
from .multi_resolution import (
    PRESETS,
    MultiResolutionSTFTLoss,
    RandomResolutionSTFTLoss,
    SumAndDifferenceSTFTLoss,
    golf_mss,
)
from .stft import MelSTFTLoss, STFTLoss

__all__ = [
    "STFTLoss",
    "MelSTFTLoss",
    "MultiResolutionSTFTLoss",
    "RandomResolutionSTFTLoss",
    "SumAndDifferenceSTFTLoss",
    "PRESETS",
    "golf_mss",
    "FrameLevelLoss",
    "BandLevelLoss",
    "CombinedLoss",
]
