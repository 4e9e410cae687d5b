"""Matplotlib figures: spectrograms and side-by-side resynthesis comparisons.

Built with matplotlib's object API (``matplotlib.figure.Figure``), so importing this module
chooses no backend and new figures do not join pyplot's list: they render anywhere (a headless
machine, a notebook) and are freed when dropped. Pass ``ax=`` to draw into your own figure.
"""

from __future__ import annotations

from ._extras import require

require("train", "ddsp.plot", "matplotlib")

# ruff: noqa: E402

import functools

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .spectral import functional as SF

__all__ = [
    "plot_spectrogram",
    "plot_features",
    "plot_cqt",
    "plot_resynthesis",
    "plot_levels",
    "plot_filter_response",
    "figure_to_array",
]


def plot_spectrogram(
    audio: torch.Tensor,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 128,
    ax: Axes | None = None,
    title: str | None = None,
    top_db: float = 80.0,
    f0: torch.Tensor | None = None,
    f0_hop: int | None = None,
    ref: float | None = None,
) -> Axes:
    """Log-magnitude spectrogram (dB re. peak) with time in seconds and frequency in Hz.

    Args:
        audio: ``(time,)`` signal.
        f0: optional ``(frames,)`` f0 track in Hz (0 = unvoiced) drawn over it, with hop
            ``f0_hop``.
        ref: the power that is 0 dB (default: this spectrogram's peak); pass one signal's
            peak to draw several on the same absolute scale.
    """
    ax = ax or Figure(figsize=(6, 3)).gca()
    x = torch.as_tensor(audio).detach().float().cpu().reshape(-1)
    spec = SF.magnitude(SF.stft(x, n_fft, hop_length), 2.0)
    ref = float(spec.max().clamp_min(1e-10)) if ref is None else ref
    db = SF.power_to_db(spec, ref=ref, top_db=None).clamp(-top_db, None).numpy()
    extent = (0, len(x) / sample_rate, 0, sample_rate / 2)
    im = ax.imshow(
        db, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=-top_db, vmax=0
    )
    if f0 is not None:
        f = torch.as_tensor(f0).detach().float().cpu().numpy()
        t = np.arange(len(f)) * (f0_hop or hop_length) / sample_rate
        ax.plot(t, np.where(f > 0, f, np.nan), color="cyan", lw=1.0, label="f0")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, label="dB")
    return ax


def plot_features(
    features: torch.Tensor,
    sample_rate: float,
    hop_length: int,
    frequencies: torch.Tensor | None = None,
    axis: str = "hz",
    db: str | None = "power",
    top_db: float = 80.0,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "magma",
) -> Axes:
    """Any ``(freq, frames)`` output of :mod:`ddsp.spectral` as an image, time in seconds.

    Args:
        features: ``(bins, frames)`` (e.g. mel, CQT, gammatone magnitudes, MFCCs).
        frequencies: ``(bins,)`` centre frequencies in Hz (the modules' ``frequencies``);
            without them the rows are numbered.
        axis: ``"hz"`` (frequency ticks in Hz), ``"note"`` (note names, for CQT/VQT) or
            ``"bins"`` (row index, e.g. MFCC coefficients).
        db: ``"power"`` (10 log10), ``"amplitude"`` (20 log10) re. the peak, or ``None`` (as is).
    """
    ax = ax or Figure(figsize=(6, 3)).gca()
    f = torch.as_tensor(features).detach().double().cpu()
    if f.is_complex():
        f = f.abs()
    if db == "amplitude":
        f = SF.amplitude_to_db(f, ref=float(f.max().clamp_min(1e-10)), top_db=top_db)
    elif db == "power":
        f = SF.power_to_db(f, ref=float(f.max().clamp_min(1e-10)), top_db=top_db)
    elif db is not None:
        raise ValueError(f"db must be 'power', 'amplitude' or None, got {db!r}")
    n_bins, n_frames = f.shape[-2:]
    extent = (0, n_frames * hop_length / sample_rate, -0.5, n_bins - 0.5)
    kw = {"vmin": -top_db, "vmax": 0} if db else {}
    im = ax.imshow(f.numpy(), origin="lower", aspect="auto", extent=extent, cmap=cmap, **kw)
    if axis != "bins" and frequencies is not None:
        freqs = torch.as_tensor(frequencies).double().cpu().numpy()
        ticks = np.unique(np.linspace(0, n_bins - 1, min(n_bins, 8)).round().astype(int))
        if axis == "note":  # one tick per octave at the C's (or every 12th bin)
            cs = [i for i, fr in enumerate(freqs) if SF.hz_to_note(float(fr)).startswith("C")]
            ticks = np.array(cs[:: max(1, len(cs) // 10)] or ticks)
            labels = [SF.hz_to_note(float(freqs[i])) for i in ticks]
        elif axis == "hz":
            labels = [f"{freqs[i]:.0f}" for i in ticks]
        else:
            raise ValueError(f"axis must be 'hz', 'note' or 'bins', got {axis!r}")
        ax.set_yticks(ticks, labels)
        ax.set_ylabel("note" if axis == "note" else "frequency (Hz)")
    else:
        ax.set_ylabel("bin")
    ax.set_xlabel("time (s)")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, label="dB" if db else "")
    return ax


@functools.lru_cache(maxsize=4)
def _note_cqt(sample_rate: int, hop_length: int):
    """The CQT of :func:`plot_cqt`, its kernels built once per rate and hop (every validation
    plots several examples)."""
    from .spectral import CQT

    fmin = SF.note_to_hz("C1")
    n_bins = min(96, int(12 * np.log2(sample_rate / 2 / 1.1 / fmin)))
    return CQT(sample_rate, hop_length, f_min=fmin, n_bins=n_bins)


def plot_cqt(
    audio: torch.Tensor,
    sample_rate: int,
    hop_length: int = 128,
    ax: Axes | None = None,
    title: str | None = None,
    top_db: float = 80.0,
) -> Axes:
    """Constant-Q magnitude (from C1, as many semitone bins as fit below Nyquist) with
    note-name axis. ``audio: (time,)``."""
    cqt = _note_cqt(sample_rate, hop_length)
    x = torch.as_tensor(audio).detach().float().cpu().reshape(-1)
    c = cqt(x)
    return plot_features(c, sample_rate, hop_length, cqt.frequencies, "note", "amplitude", top_db, ax, title)  # fmt: skip


def plot_resynthesis(
    target: torch.Tensor, output: torch.Tensor, sample_rate: int, title: str | None = None
) -> Figure:
    """Spectrograms (top) and constant-Q spectrograms with note names (bottom) of the original
    (left) and the resynthesis (right), on the same scales.

    Shape: ``target, output: (time,)``.
    """
    fig = Figure(figsize=(11, 6.2), constrained_layout=True)
    axes = fig.subplots(2, 2, sharey="row")
    plot_spectrogram(target, sample_rate, ax=axes[0, 0], title="original")
    plot_spectrogram(output, sample_rate, ax=axes[0, 1], title="resynthesis")
    plot_cqt(target, sample_rate, ax=axes[1, 0])
    plot_cqt(output, sample_rate, ax=axes[1, 1])
    if title:
        fig.suptitle(title)
    return fig


def plot_levels(
    signals: dict[str, torch.Tensor],
    sample_rate: int,
    hop_length: int = 160,
    title: str | None = None,
    top_db: float = 90.0,
) -> Figure:
    """Spectrograms of several signals on one absolute scale (0 dB = the first one's peak), and
    below them their A-weighted loudness per frame (:func:`ddsp.spectral.a_weighted_loudness`,
    dBFS): where one renders too quietly, too loudly, or hisses in silence.

    Shape: each signal ``(time,)``; the first is the reference (the input).
    """
    from .spectral.loudness import a_weighted_loudness

    names = list(signals)
    first = torch.as_tensor(signals[names[0]]).detach().float().cpu().reshape(-1)
    peak = float(SF.magnitude(SF.stft(first, 1024, 128), 2.0).max().clamp_min(1e-10))
    fig = Figure(figsize=(4.2 * len(names), 5.6), constrained_layout=True)
    grid = fig.add_gridspec(2, len(names), height_ratios=(3, 2))
    level = fig.add_subplot(grid[1, :])
    for i, name in enumerate(names):
        x = torch.as_tensor(signals[name]).detach().float().cpu().reshape(-1)
        ax = fig.add_subplot(grid[0, i])
        plot_spectrogram(x, sample_rate, ax=ax, title=name, top_db=top_db, ref=peak)
        loud = a_weighted_loudness(x, sample_rate, hop_length)
        t = np.arange(len(loud)) * hop_length / sample_rate
        level.plot(t, loud.numpy(), lw=1.3 if i == 0 else 0.9, label=name)
    level.set_xlabel("time (s)")
    level.set_ylabel("A-weighted loudness (dB)")
    level.set_ylim(
        max(-100.0, float(a_weighted_loudness(first, sample_rate, hop_length).min()) - 10), None
    )
    level.grid(alpha=0.3)
    level.legend(loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def plot_filter_response(
    a: torch.Tensor,
    b: torch.Tensor | None = None,
    sample_rate: float = 2.0,
    n_freqs: int = 512,
    labels: list[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Magnitude responses in dB (left) and poles on the unit circle (right) of a few filters.

    Args:
        a: ``(n_filters, order)`` LPC coefficients without the leading 1 (``A = 1 + sum a z^-i``),
            or ``(order,)`` for one filter.
        b: optional ``(n_filters, nb)`` numerators (zeros drawn as circles).
        sample_rate: Hz for the frequency axis (default 2: normalised, Nyquist = 1).
    """
    from .filters.response import freqz

    a = torch.as_tensor(a).detach().double().cpu().reshape(-1, torch.as_tensor(a).shape[-1])
    den = torch.nn.functional.pad(a, (1, 0), value=1.0)
    num = None if b is None else torch.as_tensor(b).detach().double().cpu().reshape(len(a), -1)
    freqs, h = freqz(num, den, n_freqs, sample_rate)
    fig = Figure(figsize=(10, 3.6))
    ax_mag, ax_pz = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    theta = np.linspace(0, 2 * np.pi, 400)
    ax_pz.plot(np.cos(theta), np.sin(theta), color="0.6", lw=0.8)
    for i in range(len(a)):
        label = labels[i] if labels else f"filter {i}"
        db = 20 * np.log10(np.maximum(h[i].abs().numpy(), 1e-12))
        (line,) = ax_mag.plot(freqs.numpy(), db, label=label)
        poles = np.roots(den[i].numpy())
        ax_pz.plot(poles.real, poles.imag, "x", color=line.get_color())
        if num is not None:
            zeros = np.roots(num[i].numpy())
            ax_pz.plot(zeros.real, zeros.imag, "o", mfc="none", color=line.get_color())
    ax_mag.set_xlabel(
        "frequency (Hz)" if sample_rate != 2.0 else "normalised frequency (x pi rad/sample)"
    )
    ax_mag.set_ylabel("magnitude (dB)")
    ax_mag.grid(alpha=0.3)
    ax_mag.legend(fontsize="small")
    ax_pz.set_aspect("equal")
    ax_pz.set_title("poles (x), zeros (o)")
    ax_pz.set_xlim(-1.15, 1.15)
    ax_pz.set_ylim(-1.15, 1.15)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a figure to an ``(height, width, 3)`` uint8 RGB array (with Agg, whatever the
    session's backend)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
