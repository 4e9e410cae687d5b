"""Filters: time-varying all-pole (torchlpc), stable parameterisations, LPC analysis,
pole-zero filters, FIR, frame-wise approximations (the papers' baselines), frequency responses
and frequency warping of all-pole filters.

Imports nothing heavier than torch, torchlpc and :mod:`ddsp.spectral`.
"""

from .allpole import allpole, allpole_sos, check_stable
from .analysis import autocorrelation, levinson_durbin, lpc_analysis
from .fir import (
    cepstrum_to_minimum_phase_ir,
    fft_convolve,
    ltv_fir,
    magnitudes_to_impulse_response,
    magnitudes_to_minimum_phase_ir,
)
from .framewise import allpole_framewise_ola, allpole_frequency_sampling
from .iir import lfilter, ltv_iir
from .interpolate import interpolate_lpc, upsample
from .lpc import (
    UnstableFilterError,
    biquads_to_logits,
    lar_to_reflection,
    logits_to_biquads,
    logits_to_lsf,
    logits_to_reflection,
    lpc_roots,
    lpc_to_biquads,
    lpc_to_lsf,
    lpc_to_reflection,
    lsf_to_lpc,
    poles_to_lpc,
    reflection_to_lar,
    reflection_to_lpc,
    sos_to_lpc,
)
from .response import freqz
from .warp import piecewise_linear, warp_allpole

__all__ = [
    "allpole",
    "allpole_sos",
    "check_stable",
    "autocorrelation",
    "levinson_durbin",
    "lpc_analysis",
    "allpole_framewise_ola",
    "allpole_frequency_sampling",
    "fft_convolve",
    "ltv_fir",
    "magnitudes_to_impulse_response",
    "magnitudes_to_minimum_phase_ir",
    "cepstrum_to_minimum_phase_ir",
    "lfilter",
    "ltv_iir",
    "interpolate_lpc",
    "upsample",
    "UnstableFilterError",
    "logits_to_reflection",
    "reflection_to_lpc",
    "lpc_to_reflection",
    "reflection_to_lar",
    "lar_to_reflection",
    "logits_to_lsf",
    "lsf_to_lpc",
    "lpc_to_lsf",
    "poles_to_lpc",
    "logits_to_biquads",
    "biquads_to_logits",
    "lpc_roots",
    "lpc_to_biquads",
    "piecewise_linear",
    "warp_allpole",
    "sos_to_lpc",
    "freqz",
]
