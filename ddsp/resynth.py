"""Copy-synthesis of a recording with a trained vocoder.

    python -m ddsp.resynth input.wav output.wav      # the pretrained model (pretrained/)
    python -m ddsp.resynth input.wav output.wav ckpt=logs/lpc_vocoder/runs/<run>/checkpoints/last.ckpt
    python -m ddsp.resynth input.wav output.wav ckpt=... --f0-scale 1.5 --plot resynth.png
    python -m ddsp.resynth input.wav output.wav ckpt=... --block-frames 4   # streaming decoder

The input is resampled to the model's rate and analysed exactly as in training (f0, voicing,
loudness); ``--f0-scale`` multiplies f0 (pitch shift); ``--plot`` draws the waveforms, input and
output spectrograms with f0, and, for the GOLF vocoder, the Rd track and the vocal-tract response
over time. ``--block-frames N`` renders the GOLF decoder block by block (N frames a call, the
state carried between calls, as a real-time host would; :class:`ddsp.synth.StreamingGOLF`) and
reports its latency and the worst block's real-time factor.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import cli
from .data.prepare import PrepConfig, analyse_file
from .models.checkpoint import load_vocoder

__all__ = ["resynthesize", "main"]


def resynthesize(
    model, cfg, path: str | Path, f0_scale: float = 1.0, block_frames: int | None = None
) -> dict[str, torch.Tensor]:
    """Analyse ``path`` and resynthesise it (``f0_scale > 0`` multiplies f0).

    Returns:
        dict with ``audio (T,)`` (input at the model rate), ``output (T,)``, ``f0``, ``voiced``
        ``(frames,)`` and the synthesiser ``controls`` ``{name: (frames, channels)}``.
    """
    if not f0_scale > 0:
        raise ValueError(f"f0_scale must be > 0, got {f0_scale}")
    d = cfg.data
    prep = PrepConfig(d.sample_rate, d.hop_length, d.f0_min, d.f0_max, d.f0_method)
    item = analyse_file(Path(path), prep)
    hop = d.hop_length
    frames = len(item["audio"]) // hop
    if frames < 1:
        raise ValueError(f"{path}: shorter than one frame ({hop} samples at {d.sample_rate} Hz)")
    batch = {
        "audio": item["audio"][: frames * hop][None],
        "f0": (item["f0"][:frames] * f0_scale)[None],
        "voiced": item["voiced"][:frames][None],
        "loudness": item["loudness"][:frames][None],
    }
    with torch.no_grad():
        controls = model.encode(batch)
        if block_frames:
            out = model.apply_level(
                _stream(model, batch, controls, block_frames, d.sample_rate), batch
            )
        else:
            out = model.render(batch, controls, generator=torch.Generator().manual_seed(0))
    return {
        "audio": batch["audio"][0],
        "output": out[0],
        "f0": batch["f0"][0],
        "voiced": batch["voiced"][0],
        "controls": {k: v[0] for k, v in controls.items()},
    }


def _stream(model, batch, controls, block_frames: int, sample_rate: int) -> torch.Tensor:
    """Render with :class:`ddsp.synth.StreamingGOLF`, ``block_frames`` frames per call."""
    import time

    from .synth import GlottalFlowLPC, StreamingGOLF

    if not isinstance(model.synth, GlottalFlowLPC):
        raise ValueError(f"--block-frames needs a GOLF model, not {type(model.synth).__name__}")
    stream = StreamingGOLF(model.synth, generator=torch.Generator().manual_seed(0))
    frames, hop = batch["f0"].shape[-1], model.synth.hop_length
    voiced = batch["voiced"] if model.voicing_gate else None
    outs, worst = [], 0.0
    for i in range(0, frames, block_frames):
        sl = slice(i, i + block_frames)
        t0 = time.perf_counter()
        outs.append(
            stream(
                batch["f0"][:, sl],
                {k: c[:, sl] for k, c in controls.items()},
                None if voiced is None else voiced[:, sl],
            )
        )
        n = batch["f0"][:, sl].shape[-1] * hop
        worst = max(worst, (time.perf_counter() - t0) * sample_rate / n)
    outs.append(stream.flush())
    print(
        f"streaming: {block_frames} frames a block, latency {stream.latency} samples "
        f"({1000 * stream.latency / sample_rate:.0f} ms), worst block real-time factor {worst:.2f}"
    )
    return torch.cat(outs, -1)


def plot(result: dict, model, cfg, path: str | Path) -> None:
    """Waveforms, spectrograms (input / output, f0 overlaid) and GOLF's Rd and vocal tract."""
    import matplotlib.pyplot as plt

    from .plot import plot_spectrogram

    sr, hop = cfg.data.sample_rate, cfg.data.hop_length
    golf = hasattr(model.synth, "biquads")
    rows = 4 if golf else 3
    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.6 * rows), constrained_layout=True)
    t = np.arange(len(result["audio"])) / sr
    axes[0].plot(t, result["audio"].numpy(), lw=0.5, label="input")
    axes[0].plot(t, result["output"].numpy(), lw=0.5, alpha=0.7, label="resynthesis")
    axes[0].set_xlim(0, t[-1])
    axes[0].legend(loc="upper right", fontsize="small")
    axes[0].set_ylabel("amplitude")
    f0 = result["f0"] * result["voiced"]
    plot_spectrogram(result["audio"], sr, ax=axes[1], title="input", f0=f0, f0_hop=hop)
    plot_spectrogram(result["output"], sr, ax=axes[2], title="resynthesis", f0=f0, f0_hop=hop)
    if golf:
        from .filters.lpc import sos_to_lpc
        from .filters.response import freqz

        vt = result["controls"]["vocal_tract"][None]
        sos = model.synth.biquads(vt)[0].double()  # (frames, sections, 2)
        den = torch.nn.functional.pad(sos_to_lpc(sos), (1, 0), value=1.0)
        freqs, h = freqz(None, den, 256, sr)
        db = 20 * torch.log10(h.abs().clamp_min(1e-9))
        db = db - db.amax(-1, keepdim=True)
        axes[3].imshow(
            db.T.numpy(),
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=-60,
            vmax=0,
            extent=(0, sos.shape[0] * hop / sr, 0, sr / 2),
        )
        rd_min, rd_max = 0.3, 2.7
        pos = torch.sigmoid(result["controls"]["source"][:, 0])
        rd = torch.exp(math.log(rd_min) + pos * (math.log(rd_max) - math.log(rd_min)))
        twin = axes[3].twinx()
        twin.plot(np.arange(len(rd)) * hop / sr, rd.numpy(), color="cyan", lw=1.0)
        twin.set_ylabel("Rd", color="cyan")
        axes[3].set_title("vocal tract |H| (dB re. frame peak) and Rd")
        axes[3].set_ylabel("frequency (Hz)")
        axes[3].set_xlabel("time (s)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


AUDIO_OUT = (".wav", ".flac", ".ogg")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument(
        "ckpt",
        nargs="?",
        default=None,
        help="ckpt=PATH (or just PATH) of a checkpoint written by train.py; default: the "
        "pretrained model in pretrained/",
    )
    ap.add_argument("--f0-scale", default=1.0, help="multiply f0 (pitch shift), > 0")
    ap.add_argument("--plot", default=None, help="write a PNG of the analysis and resynthesis")
    ap.add_argument(
        "--block-frames", type=int, default=None, help="stream the GOLF decoder, N frames a call"
    )
    a = ap.parse_args(argv)
    cli.run("python -m ddsp.resynth", lambda: _main(a))


def _main(a: argparse.Namespace) -> None:
    f0_scale = cli.positive("--f0-scale")(a.f0_scale)
    if a.block_frames is not None and a.block_frames < 1:
        raise ValueError(f"--block-frames must be >= 1, got {a.block_frames}")
    if not Path(a.input).is_file():
        raise FileNotFoundError(f"{a.input}: no such input file")
    cli.writable_file(a.output, AUDIO_OUT)  # before any work, not after it
    if a.plot:
        cli.writable_file(a.plot, (".png", ".pdf", ".svg"))
    ckpt = a.ckpt.split("=", 1)[1] if a.ckpt and a.ckpt.startswith("ckpt=") else a.ckpt
    model, cfg = load_vocoder(ckpt)
    result = resynthesize(model, cfg, a.input, f0_scale, a.block_frames)
    out = result["output"].numpy()
    peak = float(np.abs(out).max())
    if peak > 1.0:
        print(f"note: output peaks at {peak:.2f}; scaled to 0.99 to avoid clipping")
        out = out * (0.99 / peak)
    sf.write(a.output, out, cfg.data.sample_rate)
    print(f"wrote {a.output}: {len(out) / cfg.data.sample_rate:.2f} s at {cfg.data.sample_rate} Hz")
    if a.plot:
        plot(result, model, cfg, a.plot)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
