"""``MFCC``: mel-frequency cepstral coefficients (librosa or tf.signal conventions)."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from . import functional as SF
from .mel import MelSpectrogram


class MFCC(nn.Module):
    """MFCCs of ``(..., time)`` audio: DCT-II of a log-mel spectrogram, optionally liftered.

    Defaults give ``librosa.feature.mfcc`` (power mel, ``power_to_db`` with ``top_db=80``, DCT
    ``"ortho"``); the tf.signal pipeline is ``log="log", dct_norm="tf", power=1.0,
    mel_scale="tf"`` (``log(mel + offset)``, ``sqrt(2 / N)`` on every coefficient).

    Args:
        sample_rate: Hz.
        n_mfcc: coefficients kept.
        dct_norm: ``"ortho"`` | ``"tf"`` | ``None`` (see :func:`ddsp.spectral.functional.dct_matrix`).
        lifter: sinusoidal liftering ``L`` (0: none).
        log: ``"db"`` (``power_to_db`` with ``amin``, ``top_db`` per example) or ``"log"``
            (natural log of ``mel + offset``).
        **mel_kwargs: :class:`MelSpectrogram` arguments (``n_fft``, ``hop_length``, ``n_mels``,
            ``power``, ``mel_scale``, ``trainable_mel``, ...).

    Shape:
        ``(..., time)`` -> ``(..., n_mfcc, frames)``.
    """

    def __init__(
        self,
        sample_rate: int,
        n_mfcc: int = 20,
        dct_norm: str | None = "ortho",
        lifter: float = 0.0,
        log: str = "db",
        offset: float = 1e-6,
        amin: float = 1e-10,
        top_db: float | None = 80.0,
        **mel_kwargs,
    ) -> None:
        super().__init__()
        self.mel = MelSpectrogram(sample_rate, **mel_kwargs)
        n_mels = self.mel.mel_basis.shape[0]
        if n_mfcc > n_mels:
            raise ValueError(f"n_mfcc ({n_mfcc}) must be <= n_mels ({n_mels})")
        if log not in ("db", "log"):
            raise ValueError(f"log must be 'db' or 'log', got {log!r}")
        self.log, self.offset, self.amin, self.top_db = log, offset, amin, top_db
        d = SF.dct_matrix(n_mels, n_mfcc, dct_norm)
        if lifter > 0:
            d = d * SF.lifter_weights(n_mfcc, lifter)
        self.register_buffer("dct_mat", d, persistent=False)

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mel = self.mel(x)
        dct = self.dct_mat.to(mel.dtype)
        if mel.requires_grad:
            if self.log == "db":
                logmel = SF.power_to_db(mel, amin=self.amin, top_db=self.top_db)
            else:
                logmel = torch.log(mel + self.offset)
            return torch.matmul(dct, logmel)
        # no graph to keep: the log in place on the fresh mel spectrogram, and the DCT on its
        # frame-major memory (the gradient-free mel is a transposed view): 5 % of an MFCC
        if self.log == "db":
            logmel = SF.power_to_db(mel, amin=self.amin, top_db=self.top_db, inplace=True)
        else:
            logmel = mel.add_(self.offset).log_()
        return torch.matmul(logmel.mT, dct.T).mT
