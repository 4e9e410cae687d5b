"""Evaluation metrics: mel-cepstral distortion, loudness / f0 / voicing errors, real-time factor,
and the voice measures that check edits (f0 in cents, LPC formants, H1-H2).

The multi-resolution STFT distance (MSS) is :class:`ddsp.losses.MultiResolutionSTFTLoss`.
"""

from .mcd import ALPHA, freqt_matrix, mel_cepstral_distortion, mel_cepstrum
from .signal import f0_errors, loudness_error, real_time_factor
from .voice import cents, f0_track, formant_tracks, h1_h2, smoothed_f0

__all__ = [
    "ALPHA",
    "freqt_matrix",
    "mel_cepstrum",
    "mel_cepstral_distortion",
    "loudness_error",
    "f0_errors",
    "real_time_factor",
    "f0_track",
    "cents",
    "smoothed_f0",
    "formant_tracks",
    "h1_h2",
]
