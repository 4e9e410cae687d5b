"""``STFT`` (FFT or trainable-kernel path) and ``ISTFT`` modules."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from . import _checks
from . import functional as SF
from ._stft import pad_mode_name


class STFT(nn.Module):
    """Complex STFT of ``(..., time)`` audio, librosa's convention, optionally trainable.

    With nothing trainable and ``freq_scale="no"`` it runs :func:`ddsp.spectral.functional.stft`
    (an FFT). ``trainable=True`` turns the Fourier kernels into parameters (nnAudio's trainable
    conv1d STFT, computed as a matmul of unfolded frames); ``trainable_window=True`` the window.
    Before training both paths give the same numbers (tested to 1e-5 relative in float32).

    Args:
        n_fft, hop_length, win_length, window, center, pad_mode, normalized: as
            :func:`ddsp.spectral.functional.stft`.
        freq_scale, f_min, f_max, n_bins, sample_rate: bin layout, as
            :func:`ddsp.spectral.functional.frequency_bins` (``"linear"``/``"log"`` use the
            kernel path).
        trainable: Fourier kernels as parameters (real and imaginary ``(n_fft, n_bins)``).
        trainable_window: the ``(n_fft,)`` window as a parameter.

    Attributes:
        frequencies: ``(n_bins,)`` bin centre frequencies in Hz when ``sample_rate`` is given.

    Shape:
        ``(..., time)`` -> ``(..., n_bins, frames)`` complex (``n_bins = n_fft // 2 + 1`` by
        default).
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str | torch.Tensor = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        normalized: bool = False,
        freq_scale: str = "no",
        f_min: float = 0.0,
        f_max: float | None = None,
        n_bins: int | None = None,
        sample_rate: float | None = None,
        trainable: bool = False,
        trainable_window: bool = False,
    ) -> None:
        super().__init__()
        _checks.stft_sizes(n_fft, hop_length, win_length)
        self.n_fft = n_fft
        self.win_length = n_fft if win_length is None else win_length
        self.hop_length = _checks.hop(hop_length, self.win_length)
        pad_mode_name(pad_mode)  # refused here, not at the first call
        self.center, self.pad_mode, self.normalized = center, pad_mode, normalized
        self.trainable, self.trainable_window = trainable, trainable_window
        self.window = window  # a name: built in the input's dtype on use (exact in f32 and f64)
        bins = SF.frequency_bins(n_fft, freq_scale, f_min, f_max, n_bins, sample_rate)
        self.use_kernels = trainable or freq_scale != "no"
        if sample_rate is not None:
            self.register_buffer("frequencies", bins * sample_rate / n_fft, persistent=False)
        w = SF.padded_window(window, self.win_length, n_fft)
        if trainable_window:
            self.window_param = nn.Parameter(w.to(torch.get_default_dtype()))
        elif self.use_kernels:
            self.register_buffer("window_buf", w, persistent=False)
        if self.use_kernels:
            re, im = SF.fourier_kernels(n_fft, bins)
            if trainable:
                dt = torch.get_default_dtype()
                self.kernel_re, self.kernel_im = nn.Parameter(re.to(dt)), nn.Parameter(im.to(dt))
            else:
                self.register_buffer("kernel_re", re, persistent=False)
                self.register_buffer("kernel_im", im, persistent=False)

    def _current_window(self, dtype: torch.dtype) -> torch.Tensor | None:
        if self.trainable_window:
            return self.window_param.to(dtype)
        if self.use_kernels:
            return self.window_buf.to(dtype)
        return None

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.signal(x, finite=False)  # its type and shape (the values: in the transform)
        w = self._current_window(x.dtype)
        if not self.use_kernels:
            win = self.window if w is None else w
            # a trainable window is (n_fft,): pass it as the full-length window
            win_length = self.win_length if w is None else self.n_fft
            return SF.stft(
                x, self.n_fft, self.hop_length, win_length, win, self.center, self.pad_mode,
                self.normalized,
            )  # fmt: skip
        spec = SF.stft_matmul(
            x,
            self.kernel_re.to(x.dtype),
            self.kernel_im.to(x.dtype),
            self.hop_length,
            w,
            self.center,
            self.pad_mode,
        )
        if self.normalized:
            spec = spec / w.pow(2).sum().sqrt()
        return spec


class ISTFT(nn.Module):
    """Inverse STFT by overlap-add with exact window-sum normalisation.

    Args:
        n_fft, hop_length, win_length, window, center, normalized: as :class:`STFT`.

    Shape:
        ``(..., n_fft // 2 + 1, frames)`` complex -> ``(..., time)``; ``length`` fixes ``time``.
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str | torch.Tensor = "hann",
        center: bool = True,
        normalized: bool = False,
    ) -> None:
        super().__init__()
        _checks.stft_sizes(n_fft, hop_length, win_length)
        self.n_fft = n_fft
        self.win_length = n_fft if win_length is None else win_length
        self.hop_length = _checks.hop(hop_length, self.win_length)
        SF.get_window(window, self.win_length, n_fft)  # a bad window fails here
        self.window, self.center, self.normalized = window, center, normalized

    @full_precision
    def forward(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        return SF.istft(
            spec, self.n_fft, self.hop_length, self.win_length, self.window, self.center,
            length, self.normalized,
        )  # fmt: skip
