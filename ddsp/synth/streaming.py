"""Block-by-block rendering of the GOLF decoder with carried state (streaming)."""

from __future__ import annotations

import math

import torch

from ..filters.allpole import allpole_sos
from ..filters.fir import fft_convolve
from ..filters.framewise import allpole_framewise_ola
from ..filters.interpolate import upsample
from ..precision import full_precision
from .core import check_controls
from .glottal import DECIMATION_TAPS_PER_PHASE, oscillator_phase
from .golf import GlottalFlowLPC
from .noise import white_noise

__all__ = ["StreamingGOLF"]


class StreamingGOLF:
    """Render a :class:`GlottalFlowLPC` block by block; the blocks concatenate to the offline
    rendering of the whole sequence (to float rounding).

    The decoder has two kinds of memory. The finite kind (controls interpolated between
    neighbouring frames, the oscillator's windowed-sinc decimator, the zero-phase noise FIR,
    GOLF-ff's 4-hop windows) is handled by keeping ``context`` frames of history and holding
    back the last ``lookahead`` frames: each call recomputes the source over the frames it holds
    and emits only the samples that no later frame can change. The infinite kind is carried as
    state: the oscillator phase (float64), the biquads' ``zi`` (GOLF-ss) and the room FIR's
    tail. Latency: ``lookahead * hop_length`` samples (2 frames = 20 ms for GOLF-ss at a 10 ms
    hop; GOLF-ff needs 2 more for its windows).

    The white noise must be the same as offline for the outputs to match: pass it per block
    (``noise``), or let the stream draw it from ``generator`` and compare with an offline run
    given the concatenated draws (:attr:`noise_drawn`).

    Example::

        stream = StreamingGOLF(synth)
        out = [stream(f0[:, i : i + 8], {k: c[:, i : i + 8] for k, c in controls.items()})
               for i in range(0, frames, 8)]
        out.append(stream.flush())
        audio = torch.cat(out, -1)  # == synth(f0, controls, noise=stream.noise_drawn)

    Shape per call:
        ``f0 (batch, n)`` Hz, ``controls {name: (batch, n, channels)}``, ``voiced (batch, n)``,
        ``noise (batch, n * hop_length)`` -> ``(batch, m * hop_length)`` where ``m`` is the
        number of frames that became final (``0 <= m <= n + lookahead``).
    """

    def __init__(self, synth: GlottalFlowLPC, generator: torch.Generator | None = None) -> None:
        self.synth, self.generator = synth, generator
        hop = synth.hop_length
        taps = 2 * (synth.n_noise_bands - 1)  # filtered_noise's zero-phase FIR
        reach = max(DECIMATION_TAPS_PER_PHASE, taps // 2, taps - 1 - taps // 2)  # samples
        frames = math.ceil(reach / hop) + 1  # + 1: samples interpolate towards the next frame
        extra = 2 if synth.mode == "frame" else 0  # GOLF-ff: windows of 4 hops, centred
        self.lookahead = frames + extra
        self.context = frames + 2 * extra
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next call starts a new sequence."""
        self.start = 0  # global index of the first frame held
        self.done = 0  # frames emitted so far
        self.f0: torch.Tensor | None = None
        self.controls: dict[str, torch.Tensor] = {}
        self.voiced: torch.Tensor | None = None
        self.noise: torch.Tensor | None = None
        self.phase: torch.Tensor | None = None
        self.zi: torch.Tensor | None = None
        self.room_tail: torch.Tensor | None = None
        self._drawn: list[torch.Tensor] = []

    @property
    def latency(self) -> int:
        """Samples between a frame's arrival and the last of its samples being emitted."""
        return self.lookahead * self.synth.hop_length

    @property
    def noise_drawn(self) -> torch.Tensor | None:
        """``(batch, time)``: the white noise this stream drew itself (None if it was given)."""
        return torch.cat(self._drawn, -1) if self._drawn else None

    @full_precision
    def __call__(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        voiced: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hop = self.synth.hop_length
        # the block is checked before it joins the state: a bad block raises (naming its own
        # positions) and leaves the stream as it was, instead of failing every later block
        check_controls(controls, self.synth.control_sizes, f0)
        if self.f0 is not None and f0.shape[0] != self.f0.shape[0]:
            raise ValueError(
                f"this block has {f0.shape[0]} examples, the stream {self.f0.shape[0]}: "
                "reset() between streams of different batch sizes"
            )
        if self.f0 is not None and (voiced is None) != (self.voiced is None):
            raise ValueError("pass voiced for every block or for none")
        if voiced is not None and voiced.shape != f0.shape:
            raise ValueError(
                f"voiced must be f0's shape {tuple(f0.shape)}, got {tuple(voiced.shape)}"
            )
        if noise is None:
            noise = white_noise(f0.shape[0], f0.shape[1] * hop, self.generator, f0)
            self._drawn.append(noise)
        if noise.shape != (f0.shape[0], f0.shape[1] * hop):
            raise ValueError(
                f"noise must be (batch, frames * hop_length) = {(f0.shape[0], f0.shape[1] * hop)}"
                f", got {tuple(noise.shape)}"
            )

        def cat(old: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
            return new if old is None else torch.cat([old, new], dim=1)

        self.f0 = cat(self.f0, f0)
        self.controls = {k: cat(self.controls.get(k), v) for k, v in controls.items()}
        self.voiced = None if voiced is None else cat(self.voiced, voiced)
        self.noise = cat(self.noise, noise)
        return self._render(self.start + self.f0.shape[1] - self.lookahead)

    def flush(self) -> torch.Tensor:
        """Emit the held-back frames as the end of the sequence, then :meth:`reset`."""
        if self.f0 is None:
            return torch.zeros(0, 0)
        out = self._render(self.start + self.f0.shape[1])
        self.reset()  # the room's tail past the last sample is dropped, as offline
        return out

    def _render(self, end: int) -> torch.Tensor:
        synth, hop = self.synth, self.synth.hop_length
        assert self.f0 is not None and self.noise is not None
        b = self.f0.shape[0]
        if end <= self.done:
            return self.f0.new_zeros(b, 0)
        lo, hi = (self.done - self.start) * hop, (end - self.start) * hop
        with torch.no_grad():
            exc, sos = synth.excitation(
                self.f0,
                self.controls,
                voiced=self.voiced,
                noise=self.noise,
                initial_phase=self.phase,
            )
            if synth.mode == "sample":
                per_sample = upsample(sos.flatten(-2), hop)[:, lo:hi].unflatten(-1, sos.shape[-2:])
                y, self.zi = allpole_sos(exc[:, lo:hi], per_sample, zi=self.zi, return_zf=True)
            else:
                y = allpole_framewise_ola(exc, sos, hop)[:, lo:hi]
            if synth.room is not None:
                y = self._room(y, synth.room.impulse_response().to(y.dtype))
            self._drop(end)
        self.done = end
        return y

    def _room(self, y: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        full = fft_convolve(y, ir)  # (B, n + L - 1)
        if self.room_tail is not None:
            tail = self.room_tail
            full = torch.cat([full[:, : tail.shape[1]] + tail, full[:, tail.shape[1] :]], dim=1)
        n = y.shape[1]
        self.room_tail = full[:, n:]
        return full[:, :n]

    def _drop(self, end: int) -> None:
        """Forget frames older than ``end - context``; advance the oscillator phase past them."""
        new_start = max(self.start, end - self.context)
        k = new_start - self.start
        if k == 0:
            return
        synth = self.synth
        assert self.f0 is not None and self.noise is not None
        phase = oscillator_phase(
            self.f0, synth.sample_rate, synth.hop_length, synth.oversample, self.phase
        )
        self.phase = phase[:, k * synth.hop_length * synth.oversample - 1]
        self.f0 = self.f0[:, k:]
        self.controls = {n: c[:, k:] for n, c in self.controls.items()}
        self.voiced = None if self.voiced is None else self.voiced[:, k:]
        self.noise = self.noise[:, k * synth.hop_length :]
        self.start = new_start
