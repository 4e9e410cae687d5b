"""A trained vocoder beside the vocoders a user would otherwise pick, on the same recordings.

Systems: ours (the checkpoint: encoder + synthesiser), WORLD analysis/synthesis (pyworld: dio +
stonemask, CheapTrick, D4C, 5 ms frames; no training) and the classical LPC vocoder
(:func:`ddsp.synth.classical_lpc_vocoder`, order 22, pulse/noise; no training). Every system
resynthesises each whole file at the model's rate; metrics per file, then the mean over files:
MSS (GOLF's exact formula), MCD (dB), PESQ-WB, A-weighted loudness error (dB), f0 error
(cents) and voicing error (re-extracted with the data's tracker), and the real-time factor
(wall time of analysis + synthesis over the audio's duration, 1 process, all threads), the
loudness error over the unvoiced frames that are not silent (the data's voicing flag off, within
40 dB of the file's loudest frame: consonants and breath, whose noise a vocoder must keep; NaN
for a file without such frames), and the output's level in the input's silences (frames whose
40 ms RMS is below -60 dBFS; the output's RMS there, in dBFS; NaN for a file without such
frames).

An optional fourth system, ``"ours, fitted"`` (``compare_files(systems=...)``), fits the
checkpoint's controls to each file by :data:`FIT_STEPS` steps of analysis-by-synthesis
(:func:`ddsp.resynth.fit_file`) before rendering; its real-time factor includes the fit.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data.prepare import PrepConfig, analyse_file
from .losses import golf_mss
from .metrics import ALPHA, f0_errors, mel_cepstral_distortion
from .metrics.pesq import pesq_wb
from .spectral.loudness import a_weighted_loudness, frame_rms
from .synth import classical_lpc_vocoder

__all__ = [
    "world_resynthesis",
    "render_systems",
    "compare",
    "compare_files",
    "file_metrics",
    "summarise",
    "format_table",
    "SYSTEMS",
    "ALL_SYSTEMS",
    "FIT_STEPS",
    "METRICS",
]

SYSTEMS = ("ours", "WORLD", "classical LPC")
METRICS = (
    ("mss", "MSS", "lower"),
    ("mcd_db", "MCD dB", "lower"),
    ("pesq_wb", "PESQ-WB", "higher"),
    ("loudness_db", "loudness err dB", "lower"),
    ("unvoiced_db", "unvoiced loudness err dB", "lower"),
    ("f0_cents", "f0 err cents", "lower"),
    ("voicing_error", "voicing err", "lower"),
    ("silence_db", "dBFS in silences", "lower"),
    ("rtf", "RTF", "lower"),
)
SILENCE_DBFS = -60.0  # input frames quieter than this count as silence
UNVOICED_RANGE_DB = 40.0  # unvoiced frames within this of the loudest count as noise to keep


def world_resynthesis(x: np.ndarray, sample_rate: int, frame_ms: float = 5.0) -> np.ndarray:
    """WORLD analysis and synthesis of ``x (time,)``: the no-training reference vocoder."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyworld imports pkg_resources
        import pyworld

    x64 = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = pyworld.dio(x64, sample_rate, frame_period=frame_ms)
    f0 = pyworld.stonemask(x64, f0, t, sample_rate)
    sp = pyworld.cheaptrick(x64, f0, t, sample_rate)
    ap = pyworld.d4c(x64, f0, t, sample_rate)
    y = pyworld.synthesize(f0, sp, ap, sample_rate, frame_ms)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]


_MSS = golf_mss()


def file_metrics(
    y: torch.Tensor, x: torch.Tensor, item: dict, sr: int, hop: int
) -> dict[str, float]:
    """Every metric of the tables but the real-time factor, for one file: ``{metric: value}``.

    Shape: ``y, x (time,)`` output and input at ``sr``; ``item``: the input's analysis
    (``f0, voiced (frames,)``, as :func:`ddsp.data.prepare.analyse_file` gives it).
    """
    y, x = y[None].detach().float(), x[None].detach().float()
    cents, voicing = f0_errors(y, item["f0"][None], item["voiced"][None], sr, hop)
    mcd = mel_cepstral_distortion(
        y, x, alpha=ALPHA.get(sr, 0.46), n_fft=512, hop_length=round(0.005 * sr)
    )
    quiet = frame_rms(x, hop, x.shape[-1] // hop, floor_db=-200.0) < 10 ** (SILENCE_DBFS / 20)
    out_level = frame_rms(y, hop, x.shape[-1] // hop, floor_db=-200.0)
    silence = (
        float(20 * torch.log10(out_level[quiet].square().mean().sqrt().clamp_min(1e-10)))
        if quiet.any()
        else math.nan
    )
    return {
        "silence_db": silence,
        "mss": float(_MSS(y[:, None], x[:, None])),
        "mcd_db": float(mcd[0]),
        "pesq_wb": float(pesq_wb(y, x, sr)[0]),
        **_loudness_errors(y[0], x[0], item["voiced"], sr, hop),
        "f0_cents": float(cents[0]),
        "voicing_error": float(voicing[0]),
    }


def _loudness_errors(
    y: torch.Tensor, x: torch.Tensor, voiced: torch.Tensor, sr: int, hop: int
) -> dict[str, float]:
    """``loudness_db``: :func:`ddsp.metrics.loudness_error` (mean |A-weighted loudness
    difference| in dB over all frames); ``unvoiced_db``: the same over the frames the data marks
    unvoiced that lie within :data:`UNVOICED_RANGE_DB` of the input's loudest frame (NaN without
    any). Each file's loudness is computed once for both.

    Shape: ``y, x (time,)``, ``voiced (frames,)``."""
    lp, lt = a_weighted_loudness(y, sr, hop), a_weighted_loudness(x, sr, hop)
    diff = (lp - lt).abs()
    n = min(len(voiced), len(lt))
    keep = (voiced[:n] < 0.5) & (lt[:n] > lt.max() - UNVOICED_RANGE_DB)
    unvoiced = float(diff[:n][keep].mean()) if keep.any() else math.nan
    return {"loudness_db": float(diff.mean()), "unvoiced_db": unvoiced}


def _unvoiced_loudness_error(
    y: torch.Tensor, x: torch.Tensor, voiced: torch.Tensor, sr: int, hop: int
) -> float:
    """The ``unvoiced_db`` of :func:`_loudness_errors`."""
    return _loudness_errors(y, x, voiced, sr, hop)["unvoiced_db"]


def _ours(batch: dict, sr: int, hop: int, model) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return model.render(batch, model.encode(batch), gen)[0]


def _world(batch: dict, sr: int, hop: int, model) -> torch.Tensor:
    return torch.from_numpy(world_resynthesis(batch["audio"][0].numpy(), sr))


def _classical(batch: dict, sr: int, hop: int, model) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return classical_lpc_vocoder(
        batch["audio"], batch["f0"], batch["voiced"], sr, hop, generator=gen
    )[0]


FIT_STEPS = 200  # the "ours, fitted" system's analysis-by-synthesis steps


def _ours_fitted(batch: dict, sr: int, hop: int, model) -> torch.Tensor:
    from .resynth import encode_batch, fit_file
    from .synth.edit import render

    with torch.enable_grad():
        voice = fit_file(model, batch, encode_batch(model, batch), FIT_STEPS)
    return render(model.synth, voice, torch.Generator().manual_seed(0))[0]


_RUNS: dict[str, Callable[..., torch.Tensor]] = {
    "ours": _ours,
    "ours, fitted": _ours_fitted,
    "WORLD": _world,
    "classical LPC": _classical,
}


ALL_SYSTEMS = tuple(_RUNS)  # SYSTEMS and the optional ones, in table order


def _check_systems(systems: Sequence[str]) -> None:
    shown = repr(systems) if isinstance(systems, str) else list(systems)
    if isinstance(systems, str) or not systems or any(s not in _RUNS for s in systems):
        raise ValueError(f"systems={shown}: each must be one of {list(ALL_SYSTEMS)}")


def render_systems(
    batch: dict[str, torch.Tensor],
    model,
    sample_rate: int,
    hop_length: int,
    systems: Sequence[str] = SYSTEMS,
) -> dict[str, torch.Tensor]:
    """Each system's resynthesis of one file's ``batch`` (``audio (1, T)``, ``f0, voiced,
    loudness (1, frames)``): ``{system: (T,)}``, in :data:`ALL_SYSTEMS` order."""
    _check_systems(systems)
    with torch.no_grad():
        return {
            name: run(batch, sample_rate, hop_length, model)
            for name, run in _RUNS.items()
            if name in systems
        }


def _timed(fn: Callable[..., torch.Tensor], *args) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def compare_files(
    model, cfg, files: list[Path], progress: bool = True, systems: Sequence[str] = SYSTEMS
) -> list[dict[str, dict[str, float] | str | float]]:
    """Resynthesise every file with each of ``systems`` (default: the three of
    :data:`SYSTEMS`; any of :data:`ALL_SYSTEMS`); one row per file long enough to score:
    ``{"file": path, "seconds": duration, system: {metric: value, "rtf_seconds": wall}}``."""
    _check_systems(systems)
    runs = {name: run for name, run in _RUNS.items() if name in systems}
    d = cfg.data
    sr, hop = d.sample_rate, d.hop_length
    prep = PrepConfig(sr, hop, d.f0_min, d.f0_max, d.f0_method)
    rows: list[dict] = []
    for path in tqdm(files, desc="Comparing vocoders", disable=not progress):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short or silent files are still compared
            item = analyse_file(Path(path), prep)
        frames = len(item["audio"]) // hop
        if frames < 8:  # shorter than the GOLF MSS's largest FFT's half: cannot be scored
            continue
        x = item["audio"][: frames * hop]
        item = {k: v[:frames] if k in ("f0", "voiced", "loudness") else v for k, v in item.items()}
        batch = {
            "audio": x[None],
            "f0": item["f0"][None],
            "voiced": item["voiced"][None],
            "loudness": item["loudness"][None],
        }
        with torch.no_grad():
            if not rows:  # warm-up: first calls pay one-off costs (allocations, caches)
                for run in runs.values():
                    run(batch, sr, hop, model)
            outs = {name: _timed(run, batch, sr, hop, model) for name, run in runs.items()}
        row: dict = {"file": str(path), "seconds": len(x) / sr}
        for system, (y, wall) in outs.items():
            row[system] = {**file_metrics(y, x, item, sr, hop), "rtf_seconds": wall}
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Rows of :func:`compare_files` -> ``{system: {metric: mean over files}}`` for the systems
    the rows hold (NaN-skipping means; ``rtf`` is the total wall time over the total duration;
    ``files`` and ``seconds`` included)."""
    if not rows:
        raise ValueError("no file long enough to compare (each needs at least 8 frames)")
    seconds = sum(r["seconds"] for r in rows)
    out = {}
    for system in (s for s in ALL_SYSTEMS if s in rows[0]):
        keys = [k for k in rows[0][system] if k != "rtf_seconds"]
        means = {k: _nanmean([r[system][k] for r in rows]) for k in keys}
        means["rtf"] = sum(r[system]["rtf_seconds"] for r in rows) / seconds
        means["files"], means["seconds"] = float(len(rows)), seconds
        out[system] = means
    return out


def compare(
    model, cfg, files: list[Path], progress: bool = True, systems: Sequence[str] = SYSTEMS
) -> dict[str, dict[str, float]]:
    """Resynthesise every file with each of ``systems`` (default: the three of
    :data:`SYSTEMS`); ``{system: {metric: mean over files}}`` (``files`` and ``seconds``
    included): :func:`summarise` of :func:`compare_files`."""
    return summarise(compare_files(model, cfg, files, progress, systems))


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def format_table(results: dict[str, dict[str, float]], title: str) -> str:
    """A markdown table: one row per system, the best value of each column in bold."""
    head = "| system | " + " | ".join(f"{label} ({better})" for _, label, better in METRICS) + " |"
    lines = [f"### {title}", "", head, "|---" * (len(METRICS) + 1) + "|"]
    best = {}
    for key, _, better in METRICS:
        vals = [r[key] for r in results.values() if not math.isnan(r[key])]
        best[key] = (min if better == "lower" else max)(vals) if vals else None
    for system, r in results.items():
        cells = []
        for key, _, _ in METRICS:
            v = r[key]
            text = f"{v:.4f}" if key == "rtf" else f"{v:.3f}"
            cells.append(f"**{text}**" if v == best[key] else text)
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    some = next(iter(results.values()))
    lines += ["", f"{int(some['files'])} files, {some['seconds']:.1f} s of audio."]
    return "\n".join(lines)
