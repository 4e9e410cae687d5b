"""LightningModule for analysis-by-synthesis vocoders: encoder -> synthesiser -> spectral loss."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn

from ..dsp import device_assert, host_reads_free
from ..filters.interpolate import upsample
from ..spectral.loudness import a_weighted_loudness, frame_rms
from ..synth.core import check_settings
from ..synth.edit import apply_gain
from .media import log_examples

__all__ = ["VocoderModule"]


class VocoderModule(L.LightningModule):
    """Trains ``encoder`` to drive ``synth`` so that its output matches the input audio.

    Args:
        synth: synthesiser module with a ``control_sizes`` property and
            ``forward(f0 (B, frames), controls, generator=None) -> (B, frames * hop)``.
        encoder: callable ``encoder(control_sizes=...) -> nn.Module`` (a Hydra partial), whose
            module maps ``(audio, f0, voiced, loudness)`` to the controls.
        loss: training loss ``loss(pred (B, 1, T), target (B, 1, T)) -> scalar``; any module,
            auraloss's included.
        metric: fixed validation metric with the same call (default: GOLF's MSS, its exact
            formula), so that runs with different training losses stay comparable.
        optimizer: ``optimizer(params) -> torch.optim.Optimizer`` (a Hydra partial).
        scheduler: optional ``scheduler(optimizer) -> LRScheduler`` stepped every step.
        sample_rate: Hz (media logging, the level track's high-pass).
        n_audio_examples: validation examples logged as audio and spectrograms.
        voicing_gate: pass the data's voicing flags to the synthesiser, which mutes its periodic
            source in unvoiced frames (ramped over a hop); ``False``: the encoder must learn it.
        level: ``"frame"`` makes the model level-equivariant by construction: the input's RMS
            per frame (:func:`ddsp.spectral.frame_rms`, 40 ms windows, floored 80 dB below the
            loudest frame) divides the audio the encoder sees (its loudness feature is measured
            on that normalised audio), and multiplies
            the rendered output, so the encoder only predicts levels relative to the input's:
            a recording at any level comes out at that level, and digital silence as (near)
            silence. ``"none"``: the encoder sees the raw input and must learn absolute levels
            (models trained before this option).
        level_highpass_hz: with ``level="frame"``, measure the level track above this frequency
            (:func:`ddsp.spectral.butterworth_highpass`, 4th order, zero phase; the configs use
            the data's ``f0_min``), so that rumble and mains hum below the voice do not set the
            output's level. 0: full band (models trained before this option).
    """

    def __init__(
        self,
        synth: nn.Module,
        encoder: Callable[..., nn.Module],
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        metric: nn.Module | None = None,
        scheduler: Callable | None = None,
        sample_rate: int = 16000,
        n_audio_examples: int = 4,
        voicing_gate: bool = True,
        level: str = "none",
        level_highpass_hz: float = 0.0,
    ) -> None:
        super().__init__()
        if level not in ("none", "frame"):
            raise ValueError(f"level must be 'none' or 'frame', got {level!r}")
        if not 0.0 <= level_highpass_hz < sample_rate / 2:
            raise ValueError(
                f"level_highpass_hz must be in [0, sample_rate / 2 = {sample_rate / 2}), "
                f"got {level_highpass_hz}"
            )
        self.level, self.level_highpass_hz = level, level_highpass_hz
        self.synth = synth
        self.encoder = encoder(control_sizes=synth.control_sizes)
        self.loss = loss
        if metric is None:
            from ..losses import golf_mss

            metric = golf_mss()
        self.metric = metric
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        check_settings(at_least={0: dict(n_audio_examples=n_audio_examples)})
        self.sample_rate, self.n_audio_examples = sample_rate, n_audio_examples
        self.voicing_gate = voicing_gate
        self._examples: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.config: dict | None = None  # the resolved run config, saved in checkpoints

    @property
    def example_input_array(self) -> tuple[dict[str, torch.Tensor]]:
        """One second of a steady voiced 120 Hz example ``(batch,)``, for Lightning's model
        summary: its input and output sizes, and its FLOPs column per second of audio (matrix
        products and convolutions only: torch's FlopCounterMode counts no FFT and no custom op,
        so most of the synthesiser's work is not in it)."""
        frames = self.sample_rate // self.synth.hop_length
        kw = dict(dtype=self.dtype)  # the model's (float64 under precision="64-true")
        return (
            {
                "audio": torch.zeros(1, frames * self.synth.hop_length, **kw),
                "f0": torch.full((1, frames), 120.0, **kw),
                "voiced": torch.ones(1, frames, **kw),
                "loudness": torch.full((1, frames), -100.0, **kw),
            },
        )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.config is not None:
            checkpoint["ddsp_config"] = self.config

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.config = checkpoint.get("ddsp_config", self.config)

    def forward(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``batch`` of ``audio (B, T)``, ``f0, voiced, loudness (B, frames)`` -> ``(B, T)``."""
        if self.level != "none":  # measured once, used by the encoder and the output gain
            batch = {**batch, "level": self.level_track(batch)}
        return self.render(batch, self.encode(batch), generator)

    def level_track(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The input's RMS per frame ``(B, frames)`` with ``level="frame"`` (the batch's
        ``"level"`` when it carries one), else None."""
        if self.level == "none":
            return None
        if "level" in batch:
            return batch["level"]
        hop = self.synth.hop_length
        highpass = self.level_highpass_hz / self.sample_rate
        return frame_rms(batch["audio"].detach(), hop, batch["f0"].shape[-1], highpass=highpass)

    def encode(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The encoder's controls ``{name: (B, frames, channels)}`` for a batch; with
        ``level="frame"`` the encoder sees the audio divided by its level track and the
        loudness relative to it."""
        audio, loudness = batch["audio"], batch["loudness"]
        level = self.level_track(batch)
        if level is not None:
            hop = self.synth.hop_length
            audio = audio / upsample(level.unsqueeze(-1), hop)[..., 0][..., : audio.shape[-1]]
            loudness = a_weighted_loudness(audio, self.sample_rate, hop)[..., : level.shape[-1]]
        return self.encoder(audio, batch["f0"], batch["voiced"], loudness)

    def render(
        self,
        batch: dict[str, torch.Tensor],
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Synthesise from encoder ``controls`` and the batch's ``f0`` (and ``voiced`` when the
        voicing gate is on; the level track with ``level="frame"``) -> ``(B, T)``."""
        voiced = batch["voiced"] if self.voicing_gate else None
        y = self.synth(batch["f0"], controls, generator=generator, voiced=voiced)
        return self.apply_level(y, batch)

    def apply_level(self, y: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Multiply a rendered ``(B, T)`` by the input's level track (identity for "none")."""
        return apply_gain(y, self.level_track(batch), self.synth.hop_length)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        y = self(batch)
        loss = self.loss(y.unsqueeze(1), batch["audio"].unsqueeze(1))
        if not host_reads_free(loss):  # an accelerator: no host stall per step
            device_assert(torch.isfinite(loss), "non-finite training loss")
        elif not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss at step {self.global_step}")
        self.log("train/loss", loss, prog_bar=True, batch_size=len(y))
        return loss

    def _eval_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int, prefix: str
    ) -> torch.Tensor:
        gen = torch.Generator(device=batch["audio"].device).manual_seed(batch_idx)
        y = self(batch, generator=gen)
        target = batch["audio"].unsqueeze(1)
        kw = dict(on_epoch=True, sync_dist=True, batch_size=len(y))
        self.log(f"{prefix}/loss", self.loss(y.unsqueeze(1), target), **kw)
        self.log(f"{prefix}/mss", self.metric(y.unsqueeze(1), target), prog_bar=True, **kw)
        room = self.n_audio_examples - len(self._examples)
        if room > 0:
            self._examples += [
                (t.detach().cpu(), o.detach().cpu())
                for t, o in zip(batch["audio"][:room], y[:room], strict=True)
            ]
        return y.detach()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        y = self._eval_step(batch, batch_idx, "test")
        from ..metrics import ALPHA, f0_errors, loudness_error, mel_cepstral_distortion

        sr, hop = self.sample_rate, self.synth.hop_length
        x, kw = batch["audio"], dict(on_epoch=True, sync_dist=True, batch_size=len(y))
        mcd = mel_cepstral_distortion(
            y, x, alpha=ALPHA.get(sr, 0.46), n_fft=512, hop_length=round(0.005 * sr)
        )
        self.log("test/mcd_db", mcd.mean(), **kw)
        self.log("test/loudness_db", loudness_error(y, x, sr, hop).mean(), **kw)
        cents, voicing = f0_errors(y, batch["f0"], batch["voiced"], sr, hop)
        self.log("test/voicing_error", voicing.mean(), **kw)
        if torch.isfinite(cents).any():
            self.log("test/f0_cents", cents[torch.isfinite(cents)].mean(), **kw)

    def on_validation_epoch_start(self) -> None:
        self._examples = []

    on_test_epoch_start = on_validation_epoch_start

    def _log_media(self, prefix: str) -> None:
        if self._examples and self.trainer.is_global_zero and not self.trainer.sanity_checking:
            log_examples(
                self.loggers,
                self._examples,
                self.sample_rate,
                self.global_step,
                prefix,
                self.trainer.default_root_dir,
            )
        self._examples = []

    def on_validation_epoch_end(self) -> None:
        self._log_media("val")

    def on_test_epoch_end(self) -> None:
        self._log_media("test")

    def configure_optimizers(self):
        opt = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return opt
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": self.scheduler_factory(opt), "interval": "step"},
        }
