"""Block-parallel (chunked) time-varying all-pole filtering, for accelerators.

A sequential recursion ``y[t] = x[t] - sum_i a[t, i] y[t - 1 - i]`` over ``T`` samples gives a
kernel one independent row of work per batch item: 16 rows on a training batch, a small fraction
of a GPU. Cut time into ``C`` chunks of ``L`` samples and the same kernel gets ``B * C`` rows of
``L`` steps, at the price of a little linear algebra on the ``N``-sample state
``s = [y[t-1], ..., y[t-N]]`` (torchlpc's ``zi`` layout) that links the chunks:

1. every chunk filtered from zero state, all at once: ``y0`` (rows ``B * C``, ``L`` steps);
2. every chunk's zero-input responses ``H_c`` (``L x N``: the output when the chunk starts from
   each unit state) and its transition matrix ``P_c`` (``N x N``: the state after the chunk as a
   linear function of the state before), by ``L`` batched products of ``N x N`` matrices;
3. the states entering the chunks by an inclusive scan over the pairs ``(P_c, z_c)`` (``z_c``
   the zero-state chunk's final state) in ``log2(C)`` doubling steps (Hillis-Steele);
4. ``y = y0 + H_c s_in``: one batched matrix-vector product.

Exact in exact arithmetic (tested against the sequential filter to 1e-12 in float64); work is
about ``N`` times the sequential filter's, spread over ``C`` times the rows. Steps 2-4 run in
float64 whatever the input's dtype: the companion-form transition matrices of a high-order
filter with poles near the unit circle have large entries that cancel, and in float32 they cost
250-2300x the sequential filter's rounding error (order 22, reflection logits of scale 1); in
float64 the chunked float32 result is as close to the float64 one as the sequential float32
filter is (0.3-2.2x its error, five filters, chunks of 16-256). It is written in
differentiable torch operations around any batch-parallel sequential filter ``filt`` (the
all-pole autograd function passes its kernel), so it has gradients and runs on any device.
On the CPU the sequential fused kernels are far faster (16 x 64,000, one thread: 127 against
15 ms at order 2, seconds against 28 ms at order 20; ``experiments/allpole_speed.py``), so
:func:`chunk_length` keeps it for accelerators, where its speed has not been measured yet
(``experiments/gpu_check.py`` times it).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

__all__ = ["lpc_chunked", "chunk_length", "DEFAULT_CHUNK"]

DEFAULT_CHUNK = 64


def chunk_length(like: torch.Tensor, steps: int) -> int | None:
    """The chunk length the all-pole forward and backward use for ``steps`` samples on
    ``like``'s device, or None for the sequential kernel.

    ``DDSP_ALLPOLE_CHUNK=0`` turns chunking off, ``DDSP_ALLPOLE_CHUNK=L`` forces chunks of ``L``
    samples everywhere (also on the CPU, as the tests do); unset: :data:`DEFAULT_CHUNK` on
    accelerators when there are at least four chunks, else sequential.
    """
    env = os.environ.get("DDSP_ALLPOLE_CHUNK", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(
                f"DDSP_ALLPOLE_CHUNK must be a non-negative integer, got {env!r}"
            ) from None
        if n < 0:
            raise ValueError(f"DDSP_ALLPOLE_CHUNK must be a non-negative integer, got {env!r}")
        return n or None
    if like.device.type == "cpu" or steps < 4 * DEFAULT_CHUNK:
        return None
    return DEFAULT_CHUNK


def _sequential(x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    import torchlpc

    return torchlpc.sample_wise_lpc(x, a, zi)


def _responses(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-input responses and transition matrix of each chunk.

    ``W`` maps the state before the chunk to the current state; each step prepends the new
    output's row ``-a[t] @ W`` and drops the oldest.

    Shape: ``a (M, L, N)`` -> ``H (M, L, N)``, ``P (M, N, N)``.
    """
    m, steps, n = a.shape
    w = torch.eye(n, dtype=a.dtype, device=a.device).expand(m, n, n)
    rows = []
    for t in range(steps):
        row = -torch.bmm(a[:, t : t + 1], w)  # (M, 1, N)
        rows.append(row)
        w = torch.cat([row, w[:, :-1]], dim=1)
    return torch.cat(rows, dim=1), w


def _scan(p: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan of ``s -> P_c s + z_c`` over chunks (doubling steps).

    Shape: ``p (B, C, N, N)``, ``z (B, C, N)`` -> the composed maps from the start to the end
    of each chunk, same shapes.
    """
    c, d = p.shape[1], 1
    while d < c:
        z = torch.cat([z[:, :d], (p[:, d:] @ z[:, :-d].unsqueeze(-1))[..., 0] + z[:, d:]], 1)
        p = torch.cat([p[:, :d], p[:, d:] @ p[:, :-d]], 1)
        d *= 2
    return p, z


def lpc_chunked(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: torch.Tensor | None = None,
    chunk: int = DEFAULT_CHUNK,
    filt: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``y[t] = x[t] - sum_i a[t, i] y[t - 1 - i]``, computed chunk-parallel (module docstring).

    Args:
        x: ``(B, T)`` real float signal.
        a: ``(B, T, N)`` per-sample coefficients (column ``i`` is lag ``i + 1``).
        zi: ``(B, N)`` past outputs ``[y[-1], ..., y[-N]]``; zeros if None.
        chunk: samples per chunk ``L`` (a positive int); one chunk is the sequential filter.
        filt: a batch-parallel sequential filter ``(x (M, L), a (M, L, N), zi (M, N)) -> (M, L)``;
            default torchlpc's ``sample_wise_lpc``.

    Returns:
        ``(B, T)``.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"lpc_chunked: chunk must be a positive int, got {chunk!r}")
    if x.dim() != 2 or a.dim() != 3 or a.shape[:2] != x.shape:
        raise ValueError(
            f"lpc_chunked: x must be (B, T) and a (B, T, N), got {tuple(x.shape)} and "
            f"{tuple(a.shape)}"
        )
    b, t = x.shape
    n = a.shape[-1]
    if zi is None:
        zi = a.new_zeros(b, n)
    if zi.shape != (b, n):
        raise ValueError(f"lpc_chunked: zi must be (B, N) = {(b, n)}, got {tuple(zi.shape)}")
    filt = filt or _sequential
    if chunk >= t or n == 0:
        return filt(x, a, zi)
    c = -(-t // chunk)
    pad = c * chunk - t  # zero input and coefficients past the end: discarded outputs
    xs = torch.nn.functional.pad(x, (0, pad)).reshape(b * c, chunk)
    as_ = torch.nn.functional.pad(a, (0, 0, 0, pad)).reshape(b * c, chunk, n)
    y0 = filt(xs, as_, xs.new_zeros(b * c, n))  # 1. zero state, every chunk at once
    # 2.-4. in float64 (see the module docstring)
    h, p = _responses(as_.double())
    # the zero-state chunk's final state: its last N outputs, newest first (zeros before it)
    z = torch.nn.functional.pad(y0.double().flip(-1), (0, max(0, n - chunk)))[:, :n]
    p_all, z_all = _scan(p.reshape(b, c, n, n), z.reshape(b, c, n))
    zi64 = zi.double()
    after = (p_all @ zi64[:, None, :, None])[..., 0] + z_all  # (B, C, N): after chunk c
    before = torch.cat([zi64[:, None], after[:, :-1]], 1).reshape(b * c, n, 1)
    y = y0.double() + torch.bmm(h, before)[..., 0]
    return y.to(x.dtype).reshape(b, c * chunk)[:, :t]
