"""Evaluation metrics: mel-cepstral distortion, loudness / f0 / voicing errors, real-time factor.

The multi-resolution STFT distance (MSS) is :class:`ddsp.losses.MultiResolutionSTFTLoss`.
"""

from .mcd import ALPHA, freqt_matrix, mel_cepstral_distortion, mel_cepstrum
from .signal import f0_errors, loudness_error, real_time_factor

__all__ = [
    "ALPHA",
    "freqt_matrix",
    "mel_cepstrum",
    "mel_cepstral_distortion",
    "loudness_error",
    "f0_errors",
    "real_time_factor",
]
