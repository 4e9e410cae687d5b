"""Encoder: log-mel + log-f0 + loudness -> conv + GRU -> synthesiser controls per frame."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..spectral import LogMelSpectrogram
from ..synth.core import check_settings


class ControlEncoder(nn.Module):
    """Predicts frame-rate synthesiser controls from audio features.

    Inputs per frame: an ``n_mels`` log-mel spectrum (centred frames on the same hop grid as
    f0), ``log f0`` (normalised), voicing and loudness (dB, normalised). These go through
    ``conv_layers`` 1-D convolutions (kernel 3, LayerNorm-free GroupNorm, LeakyReLU), a
    bidirectional GRU and a linear layer per control.

    Args:
        sample_rate, hop_length: audio settings (must match the data).
        control_sizes: ``{name: channels}`` to predict (from the synthesiser).
        n_fft, n_mels: log-mel front-end.
        hidden: channels of the conv and GRU layers.
        trainable_mel: make the mel filterbank trainable.

    Shape:
        ``audio: (batch, frames * hop)``, ``f0, voiced, loudness: (batch, frames)`` ->
        ``{name: (batch, frames, channels)}``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        control_sizes: dict[str, int],
        n_fft: int = 1024,
        n_mels: int = 80,
        hidden: int = 256,
        conv_layers: int = 3,
        gru_layers: int = 1,
        trainable_mel: bool = False,
    ) -> None:
        super().__init__()
        check_settings(
            at_least={
                1: dict(conv_layers=conv_layers, gru_layers=gru_layers),
                2: dict(hidden=hidden),
            }
        )
        if hidden % 2:  # conv_layers: the GRU takes hidden channels, not the mel's
            raise ValueError(f"hidden must be even (hidden // 2 GRU units each way), got {hidden}")
        self.hop_length = hop_length
        self.melspec = LogMelSpectrogram(
            sample_rate, n_fft, hop_length, n_mels=n_mels, f_min=20.0, trainable_mel=trainable_mel
        )
        layers: list[nn.Module] = []
        c_in = n_mels + 3
        for _ in range(conv_layers):
            layers += [
                nn.Conv1d(c_in, hidden, 3, padding=1),
                nn.GroupNorm(1, hidden),
                nn.LeakyReLU(0.1),
            ]
            c_in = hidden
        self.conv = nn.Sequential(*layers)
        self.gru = nn.GRU(hidden, hidden // 2, gru_layers, batch_first=True, bidirectional=True)
        self.heads = nn.ModuleDict({k: nn.Linear(hidden, n) for k, n in control_sizes.items()})

    def features(
        self, audio: torch.Tensor, f0: torch.Tensor, voiced: torch.Tensor, loudness: torch.Tensor
    ) -> torch.Tensor:
        """``(batch, n_mels + 3, frames)`` normalised input features."""
        frames = f0.shape[-1]
        mel = self.melspec(audio)[..., :frames]  # centred STFT has frames + 1 columns
        mel = (mel + 5.0) / 5.0
        logf0 = (torch.log2(f0.clamp_min(1.0)) - math.log2(200.0)).unsqueeze(1)
        loud = ((loudness + 40.0) / 20.0).unsqueeze(1)
        return torch.cat([mel, logf0, voiced.unsqueeze(1), loud], dim=1)

    def forward(
        self, audio: torch.Tensor, f0: torch.Tensor, voiced: torch.Tensor, loudness: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        h = self.conv(self.features(audio, f0, voiced, loudness)).transpose(1, 2)
        h, _ = self.gru(h)
        return {k: head(h) for k, head in self.heads.items()}
