"""Stateless spectral transforms: the functional core of :mod:`ddsp.spectral`.

Every function takes and returns tensors with batch dimensions of any rank in front:
signals are ``(..., time)`` and spectrograms ``(..., freq, frames)``. The modules in
:mod:`ddsp.spectral` are thin wrappers that hold the buffers (windows, filterbanks,
kernels) or make them trainable.

Conventions follow librosa (>= 0.9) unless stated otherwise.
"""

from ._cqt import (
    CQTPlan,
    cqt,
    cqt_fft_basis,
    cqt_frequencies,
    cqt_kernels,
    cqt_plan,
    decimate2,
    decimation_filter,
    hz_to_note,
    note_to_hz,
    octave_kernels,
    vqt,
    vqt_response,
)
from ._db import a_weighting_db, amplitude_to_db, power_to_db
from ._dct import dct, dct_matrix, lifter_weights
from ._fourier import fourier_kernels, frequency_bins, padded_window, stft_matmul
from ._gammatone import gammatone_filterbank
from ._griffinlim import griffinlim
from ._icqt import griffinlim_cqt, icqt, ivqt
from ._mel import hz_to_mel, mel_filterbank, mel_to_hz, tf_mel_filterbank
from ._stft import (
    Bands,
    apply_bands,
    band_split,
    cached_window,
    get_window,
    istft,
    magnitude,
    phase,
    stft,
    stft_power,
)
from ._tuning import estimate_tuning, piptrack, pitch_tuning

__all__ = [
    "estimate_tuning",
    "piptrack",
    "pitch_tuning",
    "get_window",
    "cached_window",
    "stft",
    "stft_power",
    "band_split",
    "Bands",
    "apply_bands",
    "istft",
    "magnitude",
    "phase",
    "fourier_kernels",
    "frequency_bins",
    "stft_matmul",
    "padded_window",
    "hz_to_mel",
    "mel_to_hz",
    "mel_filterbank",
    "tf_mel_filterbank",
    "gammatone_filterbank",
    "dct",
    "dct_matrix",
    "lifter_weights",
    "griffinlim",
    "griffinlim_cqt",
    "icqt",
    "ivqt",
    "power_to_db",
    "amplitude_to_db",
    "a_weighting_db",
    "cqt",
    "vqt",
    "cqt_frequencies",
    "cqt_kernels",
    "cqt_fft_basis",
    "cqt_plan",
    "vqt_response",
    "decimation_filter",
    "decimate2",
    "octave_kernels",
    "CQTPlan",
    "note_to_hz",
    "hz_to_note",
]
