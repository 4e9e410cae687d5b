"""Mel spectrogram and log-mel spectrogram modules."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from . import _checks
from . import functional as SF
from .spectrogram import Spectrogram


class MelSpectrogram(nn.Module):
    """Mel-scaled power (or magnitude) spectrogram, equal to ``librosa.feature.melspectrogram``.

    Args:
        sample_rate: input sampling rate in Hz.
        n_fft, hop_length, win_length, window, center, pad_mode: STFT settings.
        n_mels, f_min, f_max, mel_scale, norm: as :func:`ddsp.spectral.functional.mel_filterbank`;
            ``mel_scale="tf"`` takes :func:`ddsp.spectral.functional.tf_mel_filterbank` (tf.signal's
            HTK triangles, peak 1, DC dropped; ``norm`` ignored).
        power: exponent of the magnitude before the filterbank (2.0 as librosa).
        trainable_mel: make the filterbank an ``nn.Parameter``; it is applied as
            ``clamp_min(0)`` of the parameter (a negative weight can make a mel energy negative
            and its log NaN; zero weights still receive gradient and can grow).
        **stft_kwargs: further :class:`ddsp.spectral.STFT` options (``normalized``,
            ``trainable``, ``trainable_window``).

    Attributes:
        mel_basis: ``(n_mels, n_fft // 2 + 1)`` the filterbank the output is computed with
            (float64 buffer, or the parameter): assign a new one or write into it in place
            (under ``torch.no_grad()``) and the next call follows. Writes through ``.data``
            bypass the version counter that tells the fixed basis's banded form to be redone.
        frequencies: ``(n_mels,)`` peak frequency of each filter in Hz (for plot axes).

    Shape:
        ``(..., time)`` -> ``(..., n_mels, frames)``.
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        mel_scale: str = "slaney",
        norm: str | None = "slaney",
        trainable_mel: bool = False,
        **stft_kwargs,
    ) -> None:
        super().__init__()
        _checks.sample_rate(sample_rate)
        _checks.positive_int("n_mels", n_mels)
        _checks.power(power)  # a magnitude or power (the Spectrogram also takes None)
        f_max = _checks.band(f_min, f_max, sample_rate)
        self.spectrogram = Spectrogram(
            n_fft, hop_length, win_length, window, center, pad_mode, power=power, **stft_kwargs
        )
        if mel_scale == "tf":  # tf.signal.linear_to_mel_weight_matrix; its defaults need f_max
            fb = SF.tf_mel_filterbank(
                n_mels, n_fft // 2 + 1, sample_rate, f_min, f_max or sample_rate / 2, torch.float64
            )
        else:
            fb = SF.mel_filterbank(
                sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, norm, torch.float64
            )
        # centre frequency of each filter (its peak), for plot axes
        self.register_buffer("frequencies", _centres(fb, sample_rate, n_fft), persistent=False)
        if trainable_mel:
            self.mel_basis = nn.Parameter(fb.to(torch.get_default_dtype()))
        else:  # float64, cast to the input dtype on use
            self.register_buffer("mel_basis", fb, persistent=False)
        self._banded: tuple | None = None  # (basis, its version, its bands), see bands()

    @property
    def bands(self) -> list[tuple[int, int, torch.Tensor]]:
        """The fixed ``mel_basis`` split into groups of 16 filters times the bins they reach
        (:func:`ddsp.spectral.functional.band_split`; each bin feeds one or two filters, so 7x
        fewer products than the dense matmul, which took a third of a mel spectrogram's time).
        Split again (0.5 ms) when ``mel_basis`` is replaced or written in place; kept otherwise.

        Shape: ``[(lo, hi, (<= 16, hi - lo))]``.
        """
        basis = self.mel_basis
        try:
            version = basis._version
        except RuntimeError:  # an inference tensor keeps no version counter: its identity
            version = None
        kept = self._banded
        if kept is None or kept[0] is not basis or kept[1] != version:
            with torch.no_grad():
                self._banded = (basis, version, SF.band_split(basis.detach()))
        return self._banded[2]

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        basis = self.mel_basis
        if isinstance(basis, nn.Parameter):  # keep mel energies >= 0 (log-mel stays finite)
            return self.spectrogram(x, bands=[(0, basis.shape[-1], basis.clamp_min(0.0))])
        return self.spectrogram(x, bands=self.bands)


class LogMelSpectrogram(MelSpectrogram):
    """``log(mel + offset)`` (tf.signal style) or, with ``top_db``/``db=True``, ``power_to_db``.

    Args:
        offset: added before the natural log (ignored when ``db=True``).
        db: use :func:`ddsp.spectral.functional.power_to_db` instead (librosa), with
            ``amin``/``top_db`` per example.
        **kwargs: passed to :class:`MelSpectrogram`.

    Shape:
        ``(..., time)`` -> ``(..., n_mels, frames)``.
    """

    def __init__(
        self,
        *args,
        offset: float = 1e-5,
        db: bool = False,
        amin: float = 1e-10,
        top_db: float | None = 80.0,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.offset, self.db, self.amin, self.top_db = offset, db, amin, top_db

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mel = super().forward(x)
        if self.db:
            return SF.power_to_db(mel, amin=self.amin, top_db=self.top_db)
        return torch.log(mel + self.offset)


def _centres(fb: torch.Tensor, sample_rate: float, n_fft: int) -> torch.Tensor:
    """Frequency (Hz) of each filter's largest weight: ``(n_mels,)``."""
    return fb.argmax(dim=-1).to(torch.float64) * sample_rate / n_fft
