"""GOLF: glottal-flow wavetable source + filtered noise through a time-varying all-pole vocal
tract (Yu & Fazekas, ISMIR 2023; Interspeech 2024)."""

from __future__ import annotations

import torch
from torch import nn

from ..filters.allpole import allpole_sos
from ..filters.framewise import allpole_framewise_ola
from ..filters.interpolate import upsample
from ..filters.response import biquad_log_rms_gain
from ..precision import full_precision
from .core import check_controls, check_settings, exp_sigmoid, gate_voiced, normalised_biquads
from .glottal import glottal_oscillator, glottal_wavetables
from .noise import filtered_noise, noise_magnitudes
from .reverb import LearnableReverb


class GlottalFlowLPC(nn.Module):
    """Glottal-flow source + noise -> all-pole vocal tract (as biquads) -> optional room FIR.

    Controls (raw encoder outputs, scaled here), per frame:
        ``source (2)``: wavetable position (sigmoid: 0 = Rd 0.3 ... 1 = Rd 2.7) and the glottal
        gain (``exp_sigmoid``);
        ``noise (n_noise_bands)``: noise magnitudes (``exp_sigmoid(x - 5)``), a zero-phase
        time-varying FIR on white noise;
        ``vocal_tract (order + 1)``: ``order / 2`` biquads in the triangle parameterisation
        (poles within ``max_radius``) and the overall gain (``exp_sigmoid`` up to
        ``max_gain``), applied after normalising each frame's vocal tract to unit RMS gain
        (:meth:`log_rms_gain`). A model whose input is normalised to unit level
        (``VocoderModule(level="frame")``) needs a gain above 2 (the glottal source is quieter
        than unit RMS): with the old ceiling of 2 the gain saturated and every output came out
        about 2 dB too quiet; the configs use 8.

    ``mode="sample"`` (GOLF-ss) interpolates the biquad coefficients linearly to every sample
    (stable at every sample: the stability triangle is convex) and filters the cascade
    sample by sample; ``mode="frame"`` (GOLF-ff) filters each frame from zero state with that
    frame's filter and overlap-adds (window ``4 * hop_length``).

    The Rd control is used at the frame rate (100 Hz at a 10 ms hop) and interpolated linearly;
    GOLF chose it at 10 Hz, but frame rate costs nothing extra here and lets the voice quality
    follow fast onsets.

    Shape:
        ``f0: (batch, frames)`` Hz, controls as above -> ``(batch, frames * hop_length)``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        lpc_order: int = 22,
        n_noise_bands: int = 129,
        n_tables: int = 100,
        table_size: int = 2048,
        oversample: int = 4,
        max_radius: float = 0.99,
        mode: str = "sample",
        room_length: int = 0,
        max_gain: float = 2.0,
    ) -> None:
        super().__init__()
        check_settings(
            sample_rate,
            hop_length,
            max_radius,
            {
                2: dict(lpc_order=lpc_order, n_noise_bands=n_noise_bands, n_tables=n_tables),
                1: dict(table_size=table_size, oversample=oversample),
                0: dict(room_length=room_length),
            },
        )
        if lpc_order % 2:
            raise ValueError(f"lpc_order must be even (biquads), got {lpc_order}")
        if mode not in ("sample", "frame"):
            raise ValueError(f"mode must be 'sample' or 'frame', got {mode!r}")
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.lpc_order, self.n_noise_bands = lpc_order, n_noise_bands
        self.oversample, self.max_radius, self.mode = oversample, max_radius, mode
        if not max_gain > 0:
            raise ValueError(f"max_gain must be > 0, got {max_gain}")
        self.max_gain = max_gain
        tables, _ = glottal_wavetables(n_tables, table_size)
        self.register_buffer("tables", tables, persistent=False)
        self.room = (
            LearnableReverb(room_length, sample_rate, decay_s=0.002) if room_length else None
        )

    @property
    def control_sizes(self) -> dict[str, int]:
        """Channels of each control the encoder must predict."""
        return {"source": 2, "noise": self.n_noise_bands, "vocal_tract": self.lpc_order + 1}

    def biquads(self, vocal_tract: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, order + 1)`` controls -> ``(batch, frames, order / 2, 2)`` (a1, a2)."""
        return normalised_biquads(vocal_tract, self.lpc_order, self.max_radius, self.max_gain)[0]

    # the unit-power normalisation of a biquad cascade (kept here for existing callers)
    log_rms_gain = staticmethod(biquad_log_rms_gain)

    def excitation(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        voiced: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        initial_phase: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gain-scaled source (glottal + noise) and the vocal tract's per-frame biquads.

        Every output sample depends only on nearby frames (the oscillator's decimation filter
        and the zero-phase noise FIR reach a few hundred samples ahead and back), which
        :class:`ddsp.synth.StreamingGOLF` relies on.

        Shape: as :meth:`forward` -> ``excitation (batch, frames * hop_length)``,
        ``sos (batch, frames, order / 2, 2)``.
        """
        check_controls(controls, self.control_sizes, f0)
        src, vt = controls["source"], controls["vocal_tract"]
        position = torch.sigmoid(src[..., 0])
        glottal = glottal_oscillator(
            f0,
            position,
            self.tables,
            self.sample_rate,
            self.hop_length,
            self.oversample,
            initial_phase=initial_phase,
        )
        glottal = glottal * upsample(exp_sigmoid(src[..., 1:2]), self.hop_length)[..., 0]
        glottal = gate_voiced(glottal, voiced, self.hop_length)
        noise = filtered_noise(
            noise_magnitudes(controls["noise"]), self.hop_length, generator, noise
        )
        sos, gain = normalised_biquads(vt, self.lpc_order, self.max_radius, self.max_gain)
        excitation = (glottal + noise) * upsample(gain.unsqueeze(-1), self.hop_length)[..., 0]
        return excitation, sos

    @full_precision
    def forward(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        voiced: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Render audio; ``voiced (batch, frames)`` gates the glottal source (see
        :func:`ddsp.synth.core.gate_voiced`), ``noise (batch, time)`` replaces the drawn white
        noise."""
        excitation, sos = self.excitation(f0, controls, generator, voiced, noise)
        if self.mode == "sample":
            y = allpole_sos(excitation, sos, hop_length=self.hop_length)
        else:
            y = allpole_framewise_ola(excitation, sos, self.hop_length)
        if self.room is not None:
            y = self.room(y)
        return y
