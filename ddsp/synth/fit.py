"""Fit a synthesiser's controls to one recording by analysis-by-synthesis.

An encoder predicts controls from what it learnt on other voices; on a voice it never heard they
are a good start, not the best the synthesiser can do. :func:`fit_controls` takes them as the
starting point and runs gradient descent on the controls themselves (the synthesiser's weights,
f0, the voicing gate and the output gain stay fixed), as WORLD analyses each file anew. The
result is a :class:`~ddsp.synth.edit.VoiceControls` like any other: it renders, edits and
streams the same way::

    voice = fit_controls(synth, voice, audio, loss, steps=200)
    out = render(synth, voice)

The noise source draws fresh white noise at every step, so the fitted noise levels are right on
average rather than for one noise signal, and the fit does not depend on the seed a render later
uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from tqdm import tqdm

from ..dsp import finite_values
from .edit import VoiceControls, render

__all__ = ["fit_controls"]


def fit_controls(
    synth: nn.Module,
    voice: VoiceControls,
    target: torch.Tensor,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    steps: int = 200,
    lr: float = 0.01,
    controls: Sequence[str] | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callable[[int, VoiceControls], None] | None = None,
) -> VoiceControls:
    """Gradient descent (Adam) on ``voice``'s raw controls so that ``render(synth, voice)``
    matches ``target`` under ``loss``.

    Args:
        synth: the synthesiser the controls drive (its weights are not changed).
        voice: the starting point, e.g. an encoder's controls; its ``f0``, ``voiced`` and
            ``gain`` are kept.
        target: the recording, ``(batch, frames * hop_length)``.
        loss: ``loss(pred (B, 1, T), target (B, 1, T)) -> scalar`` (default GOLF's MSS,
            :func:`ddsp.losses.golf_mss`; a trained model's own training loss is the natural
            choice).
        steps: optimiser steps (0 returns ``voice`` unchanged).
        lr: Adam's step size on the raw (pre-activation) controls. 0.01 with 200 steps was
            chosen on the validation voice of the multi-speaker data
            (``experiments/fit_controls.py``).
        controls: the names of the controls to fit (default: all of them); the others are kept.
        generator: seeds the noise drawn at each step (default: torch's global generator).
        progress: show a progress bar with the loss.
        callback: called after each step with the number of steps taken and the controls so
            far (detached; rendering them must not change them), e.g. to score intermediate
            fits.

    Returns:
        a new :class:`VoiceControls` with the fitted controls (detached) and ``voice``'s f0,
        voicing gate and gain.

    Shape: ``voice`` of ``(batch, frames)`` tracks, ``target (batch, frames * hop_length)``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    names = list(voice.controls) if controls is None else list(controls)
    unknown = [n for n in names if n not in voice.controls]
    if unknown or not names:
        raise ValueError(
            f"controls={names}: each must be one of the voice's controls {list(voice.controls)}"
        )
    want = (*voice.f0.shape[:-1], voice.frames * synth.hop_length)
    if not isinstance(target, torch.Tensor) or tuple(target.shape) != want:
        got = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(
            f"target must be the recording as (batch, frames * hop_length) = {want}, got {got}"
        )
    finite_values(target, "target")
    if steps == 0:
        return voice
    if loss is None:
        from ..losses import golf_mss

        loss = golf_mss()
    fitted = {k: v.detach().clone().requires_grad_(k in names) for k, v in voice.controls.items()}
    opt = torch.optim.Adam([fitted[k] for k in names], lr=lr)
    frozen = [p for p in synth.parameters() if p.requires_grad]
    target = target.to(voice.f0.dtype).unsqueeze(1)
    bar = tqdm(range(steps), desc="Fitting controls", disable=not progress, leave=False)

    def now() -> VoiceControls:
        controls = {k: v.detach() for k, v in fitted.items()}
        return VoiceControls(voice.f0, controls, voice.voiced, voice.gain)

    try:
        for p in frozen:  # no gradient for the synthesiser's own weights
            p.requires_grad_(False)
        for step in bar:
            y = render(synth, VoiceControls(voice.f0, fitted, voice.voiced, voice.gain), generator)
            try:
                value = loss(y.unsqueeze(1), target)
            except ValueError as e:  # e.g. a recording shorter than the loss's longest frame
                raise ValueError(
                    f"the loss cannot score a target of {target.shape[-1]} samples ({e}): fit a "
                    "longer recording"
                ) from e
            seen = float(value.detach())
            if not math.isfinite(seen):
                raise FloatingPointError(f"fit_controls: the loss became {seen}")
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            bar.set_postfix(loss=f"{seen:.4f}", refresh=False)
            if callback is not None:
                with torch.no_grad():
                    callback(step + 1, now())
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return now()
