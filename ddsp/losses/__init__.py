"""Spectral losses. Imports nothing heavier than torch and :mod:`ddsp.spectral`."""

from .stft import PRESETS, MultiResolutionSTFTLoss, STFTLoss

__all__ = ["STFTLoss", "MultiResolutionSTFTLoss", "PRESETS"]
