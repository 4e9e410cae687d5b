"""Filters: FIR (FFT convolution, time-varying FIR by overlap-add).

Imports nothing but torch.
"""

from .fir import fft_convolve, ltv_fir, magnitudes_to_impulse_response

__all__ = ["fft_convolve", "ltv_fir", "magnitudes_to_impulse_response"]
