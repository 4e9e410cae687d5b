"""Mel spectrogram and log-mel spectrogram modules."""

from __future__ import annotations

import torch
from torch import nn

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
        self.bands: list[tuple[int, int]] = []
        if trainable_mel:
            self.mel_basis = nn.Parameter(fb.to(torch.get_default_dtype()))
        else:  # float64, cast to the input dtype on use
            self.register_buffer("mel_basis", fb, persistent=False)
            # the fixed basis is banded (each bin feeds one or two filters): groups of
            # consecutive filters times only the bins they reach skip the zeros, 7x fewer
            # products than the dense matmul (which took a third of a mel spectrogram's time)
            for i, (start, stop, block) in enumerate(SF.band_split(fb)):
                self.bands.append((start, stop))
                self.register_buffer(f"mel_band{i}", block, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        basis = self.mel_basis
        if isinstance(basis, nn.Parameter):  # keep mel energies >= 0 (log-mel stays finite)
            return self.spectrogram(x, bands=[(0, basis.shape[-1], basis.clamp_min(0.0))])
        bands = [(lo, hi, getattr(self, f"mel_band{i}")) for i, (lo, hi) in enumerate(self.bands)]
        return self.spectrogram(x, bands=bands)


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mel = super().forward(x)
        if self.db:
            return SF.power_to_db(mel, amin=self.amin, top_db=self.top_db)
        return torch.log(mel + self.offset)


def _centres(fb: torch.Tensor, sample_rate: float, n_fft: int) -> torch.Tensor:
    """Frequency (Hz) of each filter's largest weight: ``(n_mels,)``."""
    return fb.argmax(dim=-1).to(torch.float64) * sample_rate / n_fft
