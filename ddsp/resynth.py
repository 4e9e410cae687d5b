"""Copy-synthesis and voice editing of a recording with a trained vocoder.

    python -m ddsp.resynth input.wav output.wav      # the pretrained model (pretrained/)
    python -m ddsp.resynth input.wav output.wav ckpt=logs/lpc_vocoder/runs/<run>/checkpoints/last.ckpt
    python -m ddsp.resynth in.wav out.wav --pitch-shift 3 --formant-scale 0.85 --rd 1.8 \
        --time-stretch 1.25 --plot edit.png
    python -m ddsp.resynth input.wav output.wav --block-frames 4   # the streaming decoder

The input is resampled to the model's rate, analysed exactly as in training (f0, voicing,
loudness) and encoded; the edits (:class:`ddsp.synth.edit.VoiceEdit`) change the encoder's
controls before the decoder renders them, so the encoder always sees the original recording.
Pitch: ``--pitch-shift`` (semitones), ``--f0-scale``, ``--f0-file`` (one column: Hz per output
frame; two: ``time_s Hz`` points; three: ``start_s end_s midi_note`` notes; 0 Hz keeps the
original). Vocal tract (GOLF, PULF): ``--formant-scale`` (every resonance; 0.85 ~ a longer
tract), ``--formant-factors F1,F2,F3``, ``--formant-method poles|envelope``. Voice quality (GOLF): ``--rd`` (replace Rd: 0.3 pressed
... 2.7 breathy), ``--rd-offset``, ``--noise-scale`` (aspiration). Timing: ``--time-stretch``
(duration factor, pitch kept). Loudness: ``--gain-db`` (a number, or a file of ``time_s dB``
points). ``--plot`` draws the input and output spectrograms with their f0 and, for an LPC
vocal tract, its response before and after the edit, with Rd. ``--block-frames N`` renders
the GOLF decoder block by block (N frames a call, the state carried between calls, as a
real-time host would; :class:`ddsp.synth.StreamingGOLF`) and reports its latency and the worst
block's real-time factor. ``--fit N`` fits the encoder's controls to the recording by N steps of
analysis-by-synthesis before the edits (:func:`ddsp.synth.fit.fit_controls`, with the model's
training loss; 200 steps: a few seconds per second of audio here), for a closer copy of a voice
the model never heard; ``--fit-controls source,noise`` fits those alone (the pitch stays
closer, for less gain).
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import cli
from .data.prepare import PrepConfig, analyse_file
from .models.checkpoint import load_vocoder
from .synth.edit import (
    VoiceControls,
    VoiceEdit,
    apply_gain,
    curve_from_points,
    edit_controls,
    f0_from_notes,
    render,
)
from .synth.fit import fit_controls

__all__ = [
    "encode_file",
    "encode_batch",
    "fit_file",
    "synthesize",
    "edit_and_render",
    "resynthesize",
    "read_curve",
    "main",
]


def encode_file(model, cfg, path: str | Path) -> tuple[dict[str, torch.Tensor], VoiceControls]:
    """Analyse ``path`` as in training and encode it.

    Returns:
        the batch of one (``audio (1, T)`` at the model rate, ``f0, voiced, loudness (1,
        frames)``, and ``level`` for ``level="frame"`` models) and the model's controls as a
        :class:`VoiceControls`, whose ``gain`` is that level track (or None) and ``voiced``
        None when the model has no voicing gate.
    """
    d = cfg.data
    prep = PrepConfig(d.sample_rate, d.hop_length, d.f0_min, d.f0_max, d.f0_method)
    item = analyse_file(Path(path), prep)
    hop = d.hop_length
    frames = len(item["audio"]) // hop
    if frames < 1:
        raise ValueError(f"{path}: shorter than one frame ({hop} samples at {d.sample_rate} Hz)")
    batch = {
        "audio": item["audio"][: frames * hop][None],
        "f0": item["f0"][:frames][None],
        "voiced": item["voiced"][:frames][None],
        "loudness": item["loudness"][:frames][None],
    }
    voice = encode_batch(model, batch)
    if voice.gain is not None:
        batch["level"] = voice.gain
    return batch, voice


def encode_batch(model, batch: dict[str, torch.Tensor]) -> VoiceControls:
    """The model's controls for an analysed ``batch`` (``audio (B, T)``, ``f0, voiced,
    loudness (B, frames)``), without gradients: ``gain`` is the level track (None for
    ``level="none"`` models), ``voiced`` None when the model has no voicing gate."""
    with torch.no_grad():
        level = model.level_track(batch)
        controls = model.encode(batch if level is None else {**batch, "level": level})
    voiced = batch["voiced"] if model.voicing_gate else None
    return VoiceControls(batch["f0"], controls, voiced, level)


def fit_file(
    model,
    batch: dict[str, torch.Tensor],
    voice: VoiceControls,
    steps: int,
    progress: bool = False,
    **kwargs,
) -> VoiceControls:
    """Fit an encoded recording's controls to its audio (:func:`ddsp.synth.fit.fit_controls`
    with the model's training loss, noise seeded 0; ``kwargs`` such as ``lr`` or ``callback``
    go to it), e.g. ``fit_file(model, *encode_file(model, cfg, path), 200)``.

    Shape: ``batch`` and ``voice`` as :func:`encode_file` returns them."""
    gen = torch.Generator().manual_seed(0)
    return fit_controls(
        model.synth,
        voice,
        batch["audio"],
        model.loss,
        steps,
        generator=gen,
        progress=progress,
        **kwargs,
    )


def synthesize(model, voice: VoiceControls, block_frames: int | None = None) -> torch.Tensor:
    """Render ``voice`` with the model's synthesiser (white noise seeded 0), offline or, with
    ``block_frames``, streamed block by block. Shape: -> ``(batch, frames * hop_length)``."""
    with torch.no_grad():
        if block_frames:
            return _stream(model.synth, voice, block_frames)
        return render(model.synth, voice, generator=torch.Generator().manual_seed(0))


def resynthesize(
    model,
    cfg,
    path: str | Path,
    f0_scale: float = 1.0,
    block_frames: int | None = None,
    edit: VoiceEdit | None = None,
    fit_steps: int = 0,
) -> dict:
    """Analyse, encode, fit (``fit_steps`` > 0: :func:`fit_file`), edit and render ``path``
    (``f0_scale > 0`` multiplies f0, on top of ``edit``).

    Returns:
        dict with ``audio (T,)`` (input at the model rate), ``output (T',)``, the rendered
        ``f0``, ``voiced`` ``(frames',)`` and ``controls`` ``{name: (frames', channels)}``,
        and the batch-of-one :class:`VoiceControls` ``original`` and ``edited``.
    """
    if not f0_scale > 0:
        raise ValueError(f"f0_scale must be > 0, got {f0_scale}")
    edit = edit or VoiceEdit()
    if f0_scale != 1.0:
        edit = dataclasses.replace(edit, f0_scale=edit.f0_scale * f0_scale)
    batch, original = encode_file(model, cfg, path)
    if fit_steps:
        original = fit_file(model, batch, original, fit_steps)
    return edit_and_render(model, batch, original, edit, block_frames)


def edit_and_render(
    model,
    batch: dict[str, torch.Tensor],
    original: VoiceControls,
    edit: VoiceEdit,
    block_frames: int | None = None,
) -> dict:
    """Apply ``edit`` to an encoded recording (:func:`encode_file`) and render it: the dict
    :func:`resynthesize` returns (what :func:`plot` draws)."""
    edited = edit_controls(
        edit, model.synth, original.f0, original.controls, original.voiced, original.gain
    )
    out = synthesize(model, edited, block_frames)
    voiced = edited.voiced if edited.voiced is not None else torch.ones_like(edited.f0)
    return {
        "audio": batch["audio"][0],
        "output": out[0],
        "f0": edited.f0[0],
        "voiced": voiced[0],
        "controls": {k: v[0] for k, v in edited.controls.items()},
        "original": original,
        "edited": edited,
    }


def _stream(synth, voice: VoiceControls, block_frames: int) -> torch.Tensor:
    """Render with :class:`ddsp.synth.StreamingGOLF`, ``block_frames`` frames per call."""
    import time

    from .synth import GlottalFlowLPC, StreamingGOLF

    if not isinstance(synth, GlottalFlowLPC):
        raise ValueError(f"--block-frames needs a GOLF model, not {type(synth).__name__}")
    stream = StreamingGOLF(synth, generator=torch.Generator().manual_seed(0))
    frames, hop, sr = voice.frames, synth.hop_length, synth.sample_rate
    outs, worst = [], 0.0
    for i in range(0, frames, block_frames):
        sl = slice(i, i + block_frames)
        t0 = time.perf_counter()
        outs.append(
            stream(
                voice.f0[:, sl],
                {k: c[:, sl] for k, c in voice.controls.items()},
                None if voice.voiced is None else voice.voiced[:, sl],
            )
        )
        n = voice.f0[:, sl].shape[-1] * hop
        worst = max(worst, (time.perf_counter() - t0) * sr / n)
    outs.append(stream.flush())
    print(
        f"streaming: {block_frames} frames a block, latency {stream.latency} samples "
        f"({1000 * stream.latency / sr:.0f} ms), worst block real-time factor {worst:.2f}"
    )
    return apply_gain(torch.cat(outs, -1), voice.gain, hop)


def _tract_name(synth) -> str | None:
    """The control holding the synthesiser's (voiced) LPC vocal tract, if it has one."""
    if hasattr(synth, "lpc_order"):
        return "vocal_tract"
    if hasattr(synth, "orders"):
        return "harmonic"
    return None


def tract_response_db(synth, controls: torch.Tensor, name: str, n_freqs: int = 256):
    """The vocal tract's response per frame in dB re. unit mean power (the synthesiser
    normalises each frame to it). Shape: ``controls (frames, channels)`` ->
    ``freqs (n_freqs,)``, ``db (frames, n_freqs)``."""
    from .filters.lpc import logits_to_biquads, sos_to_lpc
    from .filters.response import freqz

    order = synth.lpc_order if name == "vocal_tract" else synth.orders[name]
    logits = controls[:, :order].double().reshape(len(controls), order // 2, 2)
    sos = logits_to_biquads(logits, synth.max_radius)
    den = torch.nn.functional.pad(sos_to_lpc(sos), (1, 0), value=1.0)
    freqs, h = freqz(None, den, n_freqs, synth.sample_rate)
    power = h.abs().square().clamp_min(1e-30)
    return freqs, 10 * torch.log10(power / power.mean(-1, keepdim=True))


def plot(result: dict, model, cfg, path: str | Path) -> None:
    """Input and output spectrograms with their f0; for an LPC vocal tract, its response over
    time before and after the edit (with GOLF's Rd), and its average over voiced frames; the
    waveforms."""
    import matplotlib.pyplot as plt

    from .plot import plot_spectrogram
    from .synth.edit import rd_track

    sr, hop = cfg.data.sample_rate, cfg.data.hop_length
    synth, name = model.synth, _tract_name(model.synth)
    orig, edited = result["original"], result["edited"]
    rows = 3 if name else 2
    fig, axes = plt.subplots(rows, 2, figsize=(12, 2.8 * rows), constrained_layout=True)

    def gated(v: VoiceControls) -> torch.Tensor:
        return v.f0[0] * (1.0 if v.voiced is None else (v.voiced[0] > 0.5).float())

    plot_spectrogram(result["audio"], sr, ax=axes[0, 0], title="input", f0=gated(orig), f0_hop=hop)
    plot_spectrogram(
        result["output"], sr, ax=axes[0, 1], title="output", f0=gated(edited), f0_hop=hop
    )
    if name:
        for ax, v, title in ((axes[1, 0], orig, "before"), (axes[1, 1], edited, "after")):
            freqs, db = tract_response_db(synth, v.controls[name][0], name)
            ax.imshow(
                db.T.numpy(),
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=-30,
                vmax=20,
                extent=(0, v.frames * hop / sr, 0, sr / 2),
            )
            ax.set_title(f"vocal tract |H| (dB re. unit power), {title}")
            ax.set_ylabel("frequency (Hz)")
            ax.set_xlabel("time (s)")
            if "source" in v.controls and hasattr(synth, "tables"):
                twin = ax.twinx()
                rd = rd_track(v.controls["source"][0])
                twin.plot(np.arange(len(rd)) * hop / sr, rd.numpy(), color="cyan", lw=1.0)
                twin.set_ylim(0, 3)
                twin.set_ylabel("Rd", color="cyan")
            voiced = slice(None) if v.voiced is None else v.voiced[0] > 0.5
            axes[2, 0].plot(freqs.numpy(), db[voiced].mean(0).numpy(), label=title)
        axes[2, 0].set_title("vocal tract, mean over voiced frames")
        axes[2, 0].set_xlabel("frequency (Hz)")
        axes[2, 0].set_ylabel("dB")
        axes[2, 0].legend(fontsize="small")
    wave = axes[rows - 1, 1]
    for x, label in ((result["audio"], "input"), (result["output"], "output")):
        wave.plot(np.arange(len(x)) / sr, x.numpy(), lw=0.5, alpha=0.8, label=label)
    wave.set_xlabel("time (s)")
    wave.set_ylabel("amplitude")
    wave.legend(loc="upper right", fontsize="small")
    if not name:
        axes[1, 0].axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_curve(path: str | Path, frames: int, frame_rate: float, kind: str) -> torch.Tensor:
    """Read an f0 or gain curve file (whitespace or comma separated, ``#`` comments) onto
    ``frames`` frames: one column = a value per frame; two = ``time_s value`` points
    (interpolated); three (f0 only) = ``start_s end_s midi_note`` notes. Shape: ``(frames,)``."""
    try:
        text = Path(path).read_text().replace(",", " ")
        with warnings.catch_warnings():  # "input contained no data": said below, as an error
            warnings.simplefilter("ignore", UserWarning)
            rows = np.loadtxt(text.splitlines(), ndmin=2)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable {kind} file ({e})") from e
    if rows.size == 0:
        raise ValueError(f"{path}: an empty {kind} file")
    cols = rows.shape[1]
    if cols == 1:
        if len(rows) != frames:
            raise ValueError(
                f"{path}: {len(rows)} values, but the output has {frames} frames (one value per "
                f"{1000 / frame_rate:g} ms frame; or give time_s value pairs)"
            )
        return torch.tensor(rows[:, 0], dtype=torch.float32)
    if cols in (2, 3):
        _check_times(path, rows[:, : cols - 1], frames / frame_rate)
    if cols == 2:
        return curve_from_points(
            torch.tensor(rows[:, 0]), torch.tensor(rows[:, 1]), frames, frame_rate
        )
    if cols == 3 and kind == "f0":
        return f0_from_notes([tuple(r) for r in rows.tolist()], frames, frame_rate)
    raise ValueError(
        f"{path}: {cols} columns; a {kind} file has 1 or 2" + (" or 3" if kind == "f0" else "")
    )


def _check_times(path: str | Path, times: np.ndarray, seconds: float) -> None:
    """Warn when a curve's times cannot be meant for an output of ``seconds``: all after its
    end, or running past ten times its length (milliseconds given for seconds: the output then
    takes the first sliver of the curve, silently)."""
    first, last = float(times.min()), float(times.max())
    if first >= seconds or last > 10 * max(seconds, 1.0):
        warnings.warn(
            f"{path}: its times run from {first:g} to {last:g} s, but the output lasts "
            f"{seconds:.2f} s (times are in seconds)",
            stacklevel=3,
        )


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
    ap.add_argument("--pitch-shift", default="0", help="semitones added to f0")
    ap.add_argument("--f0-scale", default="1", help="multiply f0, > 0")
    ap.add_argument("--f0-file", default=None, help="replace f0 (see above for the format)")
    ap.add_argument("--formant-scale", default="1", help="scale every formant frequency, > 0")
    ap.add_argument("--formant-factors", default=None, help="F1,F2,F3 factors, each > 0")
    ap.add_argument(
        "--formant-method",
        default="poles",
        help="poles (move pole angles) or envelope (refit the warped response, keeps the tilt)",
    )
    ap.add_argument("--rd", default=None, help="replace Rd (voice quality), 0.3 ... 2.7")
    ap.add_argument("--rd-offset", default="0", help="add to Rd (clamped to 0.3 ... 2.7)")
    ap.add_argument("--noise-scale", default="1", help="scale the aspiration noise, >= 0")
    ap.add_argument("--time-stretch", default="1", help="duration factor at the same pitch, > 0")
    ap.add_argument("--gain-db", default="0", help="output gain in dB, or a file of time_s dB")
    ap.add_argument(
        "--no-control-smoothing",
        action="store_true",
        help="keep the frame-rate controls when lowering the pitch (by default they are "
        "averaged over 1/r frames for a pitch ratio r < 1; see VoiceEdit.smooth_controls)",
    )
    ap.add_argument("--plot", default=None, help="write a PNG of the analysis and the edit")
    ap.add_argument(
        "--block-frames", type=int, default=None, help="stream the GOLF decoder, N frames a call"
    )
    ap.add_argument(
        "--fit",
        type=int,
        default=0,
        metavar="STEPS",
        help="fit the controls to the input by STEPS steps of analysis-by-synthesis before the "
        "edits (200: a closer copy of an unseen voice; a few seconds per second of audio)",
    )
    ap.add_argument(
        "--fit-controls",
        default=None,
        metavar="NAMES",
        help="with --fit, fit only these controls, comma separated (GOLF: source,noise keeps "
        "the pitch closer; default: all)",
    )
    a = ap.parse_args(argv)
    cli.run("python -m ddsp.resynth", lambda: _main(a))


def _number(flag: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{flag} must be a number, got {value!r}") from None


def _edit(a: argparse.Namespace, frames: int | None, frame_rate: float = 1.0) -> VoiceEdit:
    """The :class:`VoiceEdit` the flags ask for, curves read onto the output's frames
    (``frames=None``: check the flags without reading the curve files)."""
    stretch = _number("--time-stretch", a.time_stretch)
    if not stretch > 0:
        raise ValueError(f"--time-stretch must be > 0, got {a.time_stretch}")
    out_frames = max(1, round((frames or 1) * stretch))
    factors = (1.0, 1.0, 1.0)
    if a.formant_factors:
        factors = tuple(_number("--formant-factors", f) for f in a.formant_factors.split(","))
        if len(factors) != 3:
            raise ValueError(f"--formant-factors takes F1,F2,F3, got {a.formant_factors!r}")

    def curve(flag: str, path: str, kind: str) -> torch.Tensor:
        try:  # the file's errors start with its path: name the flag before it
            return read_curve(path, out_frames, frame_rate, kind)
        except ValueError as e:
            raise ValueError(f"{flag} {e}") from None

    gain = a.gain_db
    if Path(gain).is_file():
        gain_db = curve("--gain-db", gain, "gain") if frames else 0.0
    else:
        gain_db = _number("--gain-db", gain)
    f0 = curve("--f0-file", a.f0_file, "f0") if a.f0_file and frames else None
    try:
        return VoiceEdit(
            pitch_shift=_number("--pitch-shift", a.pitch_shift),
            f0_scale=_number("--f0-scale", a.f0_scale),
            f0=f0,
            formant_scale=_number("--formant-scale", a.formant_scale),
            formant_factors=factors,
            formant_method=a.formant_method,
            rd=None if a.rd is None else _number("--rd", a.rd),
            rd_offset=_number("--rd-offset", a.rd_offset),
            noise_scale=_number("--noise-scale", a.noise_scale),
            time_stretch=stretch,
            gain_db=gain_db,
            smooth_controls=not a.no_control_smoothing,
        )
    except ValueError as e:  # name the flag rather than VoiceEdit's field
        field, _, rest = str(e).partition(" ")
        flag = {"f0": "--f0-file"}.get(field, "--" + field.replace("_", "-"))
        raise ValueError(f"{flag} {rest}") from None


def _main(a: argparse.Namespace) -> None:
    if a.block_frames is not None and a.block_frames < 1:
        raise ValueError(f"--block-frames must be >= 1, got {a.block_frames}")
    if a.fit < 0:
        raise ValueError(f"--fit must be >= 0 steps, got {a.fit}")
    if a.fit_controls and not a.fit:
        raise ValueError("--fit-controls needs --fit STEPS")
    if not Path(a.input).is_file():
        raise FileNotFoundError(f"{a.input}: no such input file")
    if a.f0_file and not Path(a.f0_file).is_file():
        raise FileNotFoundError(f"--f0-file {a.f0_file}: no such file")
    _edit(a, None)  # flag errors before any work
    cli.writable_file(a.output, AUDIO_OUT)
    if a.plot:
        cli.writable_file(a.plot, (".png", ".pdf", ".svg"))
    ckpt = a.ckpt.split("=", 1)[1] if a.ckpt and a.ckpt.startswith("ckpt=") else a.ckpt
    model, cfg = load_vocoder(ckpt)
    sr, hop = cfg.data.sample_rate, cfg.data.hop_length
    batch, original = encode_file(model, cfg, a.input)
    if a.fit:
        names = a.fit_controls.split(",") if a.fit_controls else None
        try:
            original = fit_file(model, batch, original, a.fit, True, controls=names)
        except ValueError as e:
            raise ValueError(f"--fit: {e}") from None
    edit = _edit(a, original.frames, sr / hop)
    result = edit_and_render(model, batch, original, edit, a.block_frames)
    out = result["output"].numpy()
    peak = float(np.abs(out).max())
    if peak > 1.0:
        print(f"note: output peaks at {peak:.2f}; scaled to 0.99 to avoid clipping")
        out = out * (0.99 / peak)
    sf.write(a.output, out, sr)
    print(f"wrote {a.output}: {len(out) / sr:.2f} s at {sr} Hz")
    if a.plot:
        plot(result, model, cfg, a.plot)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
