"""Streaming GOLF decoder: block-by-block rendering with carried state equals offline rendering."""

from __future__ import annotations

import pytest
import torch

from ddsp.synth import GlottalFlowLPC, StreamingGOLF

HOP = 160
BLOCKS = [1, 5, 3, 8, 1, 1, 20, 18]  # irregular, with one-frame blocks; 57 frames in all


def _inputs(synth: GlottalFlowLPC, dtype: torch.dtype, frames: int = sum(BLOCKS), batch: int = 2):
    g = torch.Generator().manual_seed(0)
    f0 = 150 + 60 * torch.randn(batch, frames, generator=g).cumsum(1).clamp(-2, 2)
    controls = {
        k: torch.randn(batch, frames, n, generator=g) for k, n in synth.control_sizes.items()
    }
    voiced = (torch.rand(batch, frames, generator=g) > 0.3).float()
    noise = torch.rand(batch, frames * HOP, generator=g) * 2 - 1
    return (
        f0.to(dtype),
        {k: v.to(dtype) for k, v in controls.items()},
        voiced.to(dtype),
        noise.to(dtype),
    )


def _synth(mode: str, dtype: torch.dtype) -> GlottalFlowLPC:
    synth = GlottalFlowLPC(16000, HOP, mode=mode, room_length=128).to(dtype)
    with torch.no_grad():
        synth.room.tail.mul_(10.0)  # a room that matters, so that its tail must be carried
    return synth


@pytest.mark.parametrize(
    "mode,dtype,tol",
    [
        ("sample", torch.float32, 1e-5),
        ("sample", torch.float64, 1e-8),
        ("frame", torch.float32, 1e-4),
        ("frame", torch.float64, 1e-8),
    ],
)
def test_streaming_equals_offline(mode, dtype, tol):
    """Criterion: max |stream - offline| <= tol x peak of the offline render.

    GOLF-ss in float32: 1e-5 (the issue's figure; measured 1.7e-6). Float64: 1e-8 (measured
    2e-9): the oscillator phase is a float64 cumulative sum whose rounding (2e-12 periods over
    these 0.6 s) depends on where the sum starts, and the LF excitation is steep. GOLF-ff in
    float32: 1e-4 (measured 5.5e-5): the stream's source differs from offline by FFT rounding
    (1.6e-7 of its peak), which these random, very resonant frames amplify; the offline float32
    render is itself only within 2.6e-5 of the float64 one on the same inputs.
    """
    synth = _synth(mode, dtype)
    f0, controls, voiced, noise = _inputs(synth, dtype)
    with torch.no_grad():
        offline = synth(f0, controls, voiced=voiced, noise=noise)
    stream = StreamingGOLF(synth)
    outs, i = [], 0
    for n in BLOCKS:
        out = stream(
            f0[:, i : i + n],
            {k: c[:, i : i + n] for k, c in controls.items()},
            voiced[:, i : i + n],
            noise[:, i * HOP : (i + n) * HOP],
        )
        i += n
        # everything but the look-ahead is final after each call
        assert sum(o.shape[-1] for o in outs) + out.shape[-1] == max(0, i - stream.lookahead) * HOP
        outs.append(out)
    outs.append(stream.flush())
    y = torch.cat(outs, -1)
    assert y.shape == offline.shape
    err = (y - offline).abs().max() / offline.abs().max()
    assert err <= tol, f"{mode} {dtype}: relative error {err:.2e}"
    assert stream.latency == stream.lookahead * HOP and stream.lookahead <= 4


def test_streaming_draws_noise_itself_and_restarts_after_flush():
    synth = _synth("sample", torch.float64)
    f0, controls, voiced, _ = _inputs(synth, torch.float64, frames=30, batch=1)
    stream = StreamingGOLF(synth, generator=torch.Generator().manual_seed(3))
    for _ in range(2):  # flush resets: a second sequence renders the same way
        outs = [
            stream(f0[:, i : i + 10], {k: c[:, i : i + 10] for k, c in controls.items()})
            for i in range(0, 30, 10)
        ]
        noise = stream.noise_drawn
        outs.append(stream.flush())
        with torch.no_grad():
            offline = synth(f0, controls, noise=noise)
        y = torch.cat(outs, -1)
        assert (y - offline).abs().max() <= 1e-8 * offline.abs().max()


def test_streaming_rejects_bad_blocks():
    synth = _synth("sample", torch.float32)
    f0, controls, voiced, noise = _inputs(synth, torch.float32, frames=4, batch=1)
    stream = StreamingGOLF(synth)
    with pytest.raises(ValueError, match="noise must be"):
        stream(f0, controls, voiced, noise[:, :10])
    stream.reset()
    stream(f0[:, :2], {k: c[:, :2] for k, c in controls.items()}, voiced[:, :2])
    with pytest.raises(ValueError, match="voiced for every block"):
        stream(f0[:, 2:], {k: c[:, 2:] for k, c in controls.items()})
    with pytest.raises(ValueError, match="f0 must be"):
        stream(f0[0], controls)
