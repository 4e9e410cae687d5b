"""Glottal-flow-derivative wavetables from the transformed LF model (Fant 1995), as in GOLF.

One period (``T0 = 1``) of the LF derivative waveform for a shape parameter ``Rd``:

- ``Rd`` -> ``Ra = (-1 + 4.8 Rd) / 100``, ``Rk = (22.4 + 11.8 Rd) / 100``,
  ``Rg = Rk / (4 (0.11 Rd / (0.5 + 1.2 Rk) - Ra))`` (Fant's regression, valid for about 0.3-2.7);
- timing: ``tp = 1 / (2 Rg)`` (flow peak), ``te = tp (1 + Rk)`` (excitation, the negative peak;
  the open quotient), ``ta = Ra`` (return-phase time constant);
- open phase ``E(t) = E0 exp(alpha t) sin(pi t / tp)`` for ``t <= te``; return phase
  ``E(t) = -(Ee / (eps ta)) (exp(-eps (t - te)) - exp(-eps (1 - te)))`` with
  ``eps ta = 1 - exp(-eps (1 - te))``, ``Ee = 1``, and ``alpha`` such that the net flow over the
  period is zero (the flow returns to its starting value).

Tables are computed once in float64 (bisection, no scipy), shifted so that the excitation instant
sits at phase 0 in every table (peak alignment: interpolating between tables does not smear the
main excitation), and normalised to equal power.
"""

from __future__ import annotations

import math

import torch

from ..dsp import finite_values, kaiser_sinc_lowpass
from ..filters import _render_cpu
from ..filters.fir import fft_convolve
from ..filters.interpolate import upsample
from ..precision import full_precision
from .core import check_settings

__all__ = [
    "rd_to_lf",
    "lf_waveform",
    "glottal_wavetables",
    "oscillator_phase",
    "glottal_oscillator",
    "DECIMATION_TAPS_PER_PHASE",
    "RD_MIN",
    "RD_MAX",
    "rd_to_position",
    "position_to_rd",
]

DECIMATION_TAPS_PER_PHASE = 16
RD_MIN, RD_MAX = 0.3, 2.7  # the range of Fant's Rd regression, and of the wavetables


def position_to_rd(
    position: torch.Tensor, rd_min: float = RD_MIN, rd_max: float = RD_MAX
) -> torch.Tensor:
    """Wavetable position in ``[0, 1]`` -> ``Rd`` (the tables are log-spaced in Rd).

    Shape: any -> same.
    """
    return torch.exp(math.log(rd_min) + position * (math.log(rd_max) - math.log(rd_min)))


def rd_to_position(
    rd: torch.Tensor, rd_min: float = RD_MIN, rd_max: float = RD_MAX
) -> torch.Tensor:
    """Inverse of :func:`position_to_rd`; raises for an ``Rd`` outside ``[rd_min, rd_max]``.

    Shape: any -> same.
    """
    rd = torch.as_tensor(rd)
    bad = ~((rd >= rd_min) & (rd <= rd_max))
    if bad.any():
        raise ValueError(
            f"Rd must lie in the wavetables' range [{rd_min}, {rd_max}], got "
            f"{float(rd[bad].flatten()[0])}"
        )
    return (torch.log(rd) - math.log(rd_min)) / (math.log(rd_max) - math.log(rd_min))


def rd_to_lf(rd: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fant's ``Rd`` regression -> ``ra, rk, rg`` and the timing ``tp, te, ta`` (``T0 = 1``);
    a clear error for an ``rd`` (or NaN) that gives no valid pulse.

    Shape: ``rd (...)`` -> dict of ``(...)`` tensors.
    """
    rd = torch.as_tensor(rd, dtype=torch.float64)
    ra = (-1.0 + 4.8 * rd) / 100.0
    rk = (22.4 + 11.8 * rd) / 100.0
    rg = rk / (4.0 * (0.11 * rd / (0.5 + 1.2 * rk) - ra))
    tp = 1.0 / (2.0 * rg)
    te = tp * (1.0 + rk)
    valid = (ra > 0) & (rg > 0) & (te < 1)  # NaN fails too
    if not bool(valid.all()):
        bad = float(rd.reshape(-1)[int(torch.nonzero(~valid.reshape(-1))[0])])
        raise ValueError(
            f"rd={bad} gives no LF pulse (ra > 0 and rg > 0 need 0.208 < rd < 11.07); Fant's "
            f"regression holds for about {RD_MIN}-{RD_MAX}"
        )
    return {"ra": ra, "rk": rk, "rg": rg, "tp": tp, "te": te, "ta": ra}


def _bisect(fn, lo: torch.Tensor, hi: torch.Tensor, iters: int = 200) -> torch.Tensor:
    """Root of a monotone-bracketed ``fn`` elementwise (``fn(lo)`` and ``fn(hi)`` differ in sign)."""
    f_lo = fn(lo)
    for _ in range(iters):
        mid = (lo + hi) / 2
        f_mid = fn(mid)
        left = torch.sign(f_mid) == torch.sign(f_lo)
        lo = torch.where(left, mid, lo)
        f_lo = torch.where(left, f_mid, f_lo)
        hi = torch.where(left, hi, mid)
    return (lo + hi) / 2


def _lf_parameters(rd: torch.Tensor) -> dict[str, torch.Tensor]:
    p = rd_to_lf(rd)
    te, ta, tp = p["te"], p["ta"], p["tp"]
    tc = 1.0 - te
    # eps: eps ta = 1 - exp(-eps tc); the non-trivial root lies in (1 / ta - ..., big)
    eps = _bisect(lambda e: e * ta - 1.0 + torch.exp(-e * tc), 0.5 / ta, 100.0 / ta)
    wg = math.pi / tp
    # return-phase area for Ee = 1: -(1/(eps ta)) [(1 - exp(-eps tc)) / eps - tc exp(-eps tc)]
    area_return = -((1 - torch.exp(-eps * tc)) / eps - tc * torch.exp(-eps * tc)) / (eps * ta)

    def net_flow(alpha: torch.Tensor) -> torch.Tensor:
        e0 = -1.0 / (torch.exp(alpha * te) * torch.sin(wg * te))  # so that E(te) = -Ee = -1
        open_area = e0 * (
            torch.exp(alpha * te) * (alpha * torch.sin(wg * te) - wg * torch.cos(wg * te)) + wg
        )
        open_area = open_area / (alpha**2 + wg**2)
        return open_area + area_return

    alpha = _bisect(net_flow, torch.full_like(te, -50.0), torch.full_like(te, 200.0))
    e0 = -1.0 / (torch.exp(alpha * te) * torch.sin(wg * te))
    return {**p, "eps": eps, "alpha": alpha, "wg": wg, "e0": e0}


def lf_waveform(rd: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """LF glottal-flow derivative at times ``t`` in ``[0, 1)`` (one period), ``Ee = 1``.

    Shape: ``rd (n,)``, ``t (m,)`` -> ``(n, m)`` float64.
    """
    p = {
        k: v.reshape(-1, 1)
        for k, v in _lf_parameters(torch.as_tensor(rd, dtype=torch.float64).reshape(-1)).items()
    }
    t = torch.as_tensor(t, dtype=torch.float64).reshape(1, -1)
    open_phase = p["e0"] * torch.exp(p["alpha"] * t) * torch.sin(p["wg"] * t)
    ret = -(torch.exp(-p["eps"] * (t - p["te"])) - torch.exp(-p["eps"] * (1 - p["te"]))) / (
        p["eps"] * p["ta"]
    )
    return torch.where(t <= p["te"], open_phase, ret)


def glottal_wavetables(
    n_tables: int = 100,
    table_size: int = 2048,
    rd_min: float = RD_MIN,
    rd_max: float = RD_MAX,
    oversample: int = 8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Peak-aligned, equal-power LF derivative tables for log-spaced ``Rd``.

    Each period is evaluated on ``oversample * table_size`` points and averaged down (a box
    filter per output sample), which keeps the sharp excitation from aliasing in the table
    itself. Table ``k`` is rolled so that its excitation (negative peak, ``t = te``) is at index 0.

    Returns:
        ``tables (n_tables, table_size)`` float32 with unit RMS, and ``rd (n_tables,)``.
    """
    rd = torch.exp(
        torch.linspace(math.log(rd_min), math.log(rd_max), n_tables, dtype=torch.float64)
    )
    fine = (torch.arange(table_size * oversample, dtype=torch.float64) + 0.5) / (
        table_size * oversample
    )
    wave = lf_waveform(rd, fine).reshape(n_tables, table_size, oversample).mean(-1)
    te = rd_to_lf(rd)["te"]
    shifts = torch.round(te * table_size).long()
    tables = torch.stack([torch.roll(w, -int(s)) for w, s in zip(wave, shifts, strict=True)])
    tables = tables / tables.square().mean(-1, keepdim=True).sqrt()
    return tables.float(), rd


def _lowpass_taps(
    factor: int, taps_per_phase: int = DECIMATION_TAPS_PER_PHASE, dtype=torch.float32, device=None
) -> torch.Tensor:
    """Kaiser-windowed sinc low-pass for decimation by ``factor`` (cut-off 0.9 x the new Nyquist)."""
    taps = factor * taps_per_phase * 2 + 1
    return kaiser_sinc_lowpass(taps, 0.9 / factor, 8.0).to(dtype=dtype, device=device)


def _decimate(y: torch.Tensor, factor: int) -> torch.Tensor:
    """Low-pass (:func:`_lowpass_taps`, linear phase, delay compensated) and keep every
    ``factor``-th sample.

    Without gradients, a strided convolution computes only the kept samples (7x faster than
    the FFT filter on one 6 s clip at 4x, where it was half of the GOLF decoder's time); when
    a gradient is needed, the FFT filter, whose backward is half the strided convolution's on
    a training batch (16 x 1 s). Equal to 1e-6. Shape: ``(batch, time)`` -> ``(batch, time //
    factor)``.
    """
    h = _lowpass_taps(factor, dtype=y.dtype, device=y.device)
    delay = (h.shape[-1] - 1) // 2  # symmetric taps: correlation = convolution
    if torch.is_grad_enabled() and y.requires_grad:
        return fft_convolve(y, h)[..., delay : delay + y.shape[-1]][..., ::factor]
    x = torch.nn.functional.pad(y.unsqueeze(1), (delay, delay))
    return torch.nn.functional.conv1d(x, h.view(1, 1, -1), stride=factor)[:, 0]


def oscillator_phase(
    f0: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    oversample: int = 4,
    initial_phase: torch.Tensor | None = None,
) -> torch.Tensor:
    """Phase in periods (float64, not wrapped) at every oversampled sample.

    ``phase[n] = initial_phase + sum_{m <= n} f0_up[m] / (oversample * sample_rate)`` with f0
    interpolated linearly between frames: the phase after sample ``n`` is where a block that
    starts at ``n + 1`` continues from.

    Shape: ``f0 (batch, frames)`` Hz, ``initial_phase (batch,)`` ->
    ``(batch, frames * hop_length * oversample)``.
    """
    f0_up = upsample(f0.unsqueeze(-1), hop_length * oversample).squeeze(-1)
    phase = torch.cumsum(f0_up.double() / (sample_rate * oversample), dim=-1)
    if initial_phase is not None:
        phase = phase + initial_phase.double().unsqueeze(-1)
    return phase


@full_precision
def glottal_oscillator(
    f0: torch.Tensor,
    position: torch.Tensor,
    tables: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    oversample: int = 4,
    initial_phase: torch.Tensor | None = None,
) -> torch.Tensor:
    """Read glottal wavetables with a phase accumulated from f0, interpolating between tables.

    The oscillator runs at ``oversample x sample_rate`` and is decimated with a windowed-sinc
    low-pass (GOLF generates at 4x and decimates), so harmonics above the output Nyquist are
    mostly removed instead of folding back.

    Args:
        f0: ``(batch, frames)`` Hz (unvoiced frames filled with some f0: the caller mixes the
            source out there, so no phase jumps or clicks).
        position: ``(batch, frames)`` in ``[0, 1]``: 0 the first table (smallest Rd), 1 the
            last; linear between neighbouring tables (differentiable); clamped to ``[0, 1]``
            (no gradient outside).
        tables: ``(n_tables, table_size)`` from :func:`glottal_wavetables`.
        hop_length: samples per frame at ``sample_rate``.
        initial_phase: ``(batch,)`` in periods, for streaming.

    Returns:
        ``(batch, frames * hop_length)``.
    """
    _check_oscillator(f0, position, tables, sample_rate, hop_length, oversample)
    n_tables, size = tables.shape
    kernel_shapes = (  # what the C++ oscillator takes
        f0.dim() == 2
        and position.shape == f0.shape
        and n_tables >= 2
        and (initial_phase is None or initial_phase.shape == f0.shape[:1])
    )
    if kernel_shapes and _render_cpu.usable(f0, position, tables, initial_phase):
        # rendering: phase, table reads and decimation in one C++ pass over cache-sized blocks
        taps = _lowpass_taps(oversample, dtype=f0.dtype)
        return _render_cpu.wavetable_decimated(
            f0, position, tables, taps, sample_rate, hop_length, oversample, initial_phase
        )
    if (
        kernel_shapes
        and not f0.requires_grad
        and not tables.requires_grad
        and (initial_phase is None or not initial_phase.requires_grad)
        and _kernels_take_gradient(f0, position, tables)
    ):  # training: the same pass forward, and one C++ pass for the position's gradient
        args = (tables, sample_rate, hop_length, oversample, initial_phase)
        return _TrainingOscillator.apply(f0, position, *args)
    return _eager_oscillator(
        f0, position, tables, sample_rate, hop_length, oversample, initial_phase
    )


def _check_oscillator(f0, position, tables, sample_rate, hop_length, oversample) -> None:
    """:func:`glottal_oscillator`'s arguments, named with their values (tables of no samples
    crashed the C++ oscillator; one table, a hop or oversampling of 0 or a position track of
    another shape failed inside it or torch)."""
    if f0.dim() != 2 or position.shape != f0.shape:
        raise ValueError(
            f"f0 and position must be (batch, frames) of one shape, got {tuple(f0.shape)} and "
            f"{tuple(position.shape)}"
        )
    if tables.dim() != 2 or tables.shape[0] < 2 or tables.shape[1] < 1:
        raise ValueError(
            f"tables must be (n_tables >= 2, table_size >= 1), got {tuple(tables.shape)}"
        )
    check_settings(sample_rate, hop_length, at_least={1: dict(oversample=oversample)})
    finite_values(position, "position")  # (outside [0, 1] it is clamped)


def _kernels_take_gradient(*tensors: torch.Tensor) -> bool:
    """CPU float32/float64 tensors of one dtype and the C++ kernels built."""
    return _render_cpu.usable_with_gradient(*tensors)


class _TrainingOscillator(torch.autograd.Function):
    """:func:`glottal_oscillator` differentiable in ``position`` only (f0 is data, the tables
    fixed): the render kernel forward (the same bits as rendering) and a C++ backward
    (:func:`ddsp.filters._render_cpu.wavetable_position_backward`: the decimation transposed,
    times each sample's derivative in the table position, folded to frames in float64) instead
    of the eager path's oversampled temporaries (16 x 64,000 phases, indices, four gathers, the
    FFT decimation) and their backward. Under ``create_graph`` the backward differentiates the
    eager path."""

    @staticmethod
    def forward(ctx, f0, position, tables, sample_rate, hop_length, oversample, initial_phase):
        taps = _lowpass_taps(oversample, dtype=f0.dtype)
        ctx.save_for_backward(f0, position, tables)
        ctx.args = (sample_rate, hop_length, oversample, initial_phase)
        return _render_cpu.wavetable_decimated(
            f0, position, tables, taps, sample_rate, hop_length, oversample, initial_phase
        )

    @staticmethod
    def backward(ctx, grad):
        f0, position, tables = ctx.saved_tensors
        sample_rate, hop_length, oversample, initial_phase = ctx.args
        if torch.is_grad_enabled():  # create_graph: the eager path's own derivatives
            y = _eager_oscillator(f0, position, tables, *ctx.args)
            gpos = torch.autograd.grad(y, position, grad, create_graph=True)[0]
        else:
            taps = _lowpass_taps(oversample, dtype=f0.dtype)
            gpos = _render_cpu.wavetable_position_backward(
                grad,
                f0,
                position,
                tables,
                taps,
                sample_rate,
                hop_length,
                oversample,
                initial_phase,
            )
        return None, gpos, None, None, None, None, None


def _eager_oscillator(f0, position, tables, sample_rate, hop_length, oversample, initial_phase):
    """:func:`glottal_oscillator` in differentiable torch ops."""
    n_tables, size = tables.shape
    hop = hop_length * oversample
    pos_up = upsample(position.clamp(0, 1).unsqueeze(-1), hop).squeeze(-1) * (n_tables - 1)
    phase = oscillator_phase(f0, sample_rate, hop_length, oversample, initial_phase)
    idx = torch.remainder(phase, 1.0).to(f0.dtype) * size
    i0 = idx.floor().long().clamp(0, size - 1)
    k0 = pos_up.floor().long().clamp(0, n_tables - 2)
    # flat gathers on tables extended by their first sample (so the next index needs no
    # modulo): a third of the time of tab[k, i]'s two-index gathers
    tab = tables.to(f0.dtype)
    flat = torch.cat([tab, tab[:, :1]], dim=-1).reshape(-1)
    at = k0 * (size + 1) + i0
    fr_i = idx - i0

    def take(at: torch.Tensor) -> torch.Tensor:  # index_select: 2.2x faster than flat[at]
        return flat.index_select(0, at.reshape(-1)).view(at.shape)

    def read(at: torch.Tensor) -> torch.Tensor:
        return torch.lerp(take(at), take(at + 1), fr_i)

    y = torch.lerp(read(at), read(at + (size + 1)), pos_up - k0)
    if oversample > 1:
        y = _decimate(y, oversample)
    return y
