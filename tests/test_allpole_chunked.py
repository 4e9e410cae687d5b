"""The chunk-parallel all-pole filter (:mod:`ddsp.filters.allpole_chunked`), the algorithm the
all-pole forward and backward run on accelerators, checked here on the CPU: against the
sequential filter in float64, float32 against float64, gradients, and its switch."""

import pytest
import torch
import torchlpc

from ddsp.filters import allpole, interpolate_lpc, logits_to_reflection
from ddsp.filters.allpole_chunked import DEFAULT_CHUNK, chunk_length, lpc_chunked


def _smooth(b, t, n, hop=50, dtype=torch.float64, seed=0):
    """Frame-rate reflection coefficients interpolated per sample (a stable time-varying
    filter; independent random coefficients at every sample blow the recursion up)."""
    g = torch.Generator().manual_seed(seed)
    k = logits_to_reflection(0.5 * torch.randn(b, -(-t // hop), n, generator=g, dtype=dtype))
    return interpolate_lpc(k, hop, "reflection")[:, :t]


@pytest.mark.parametrize(
    "b, t, n, chunk",
    [
        (3, 1000, 20, 64),  # many chunks, the vocal-tract order
        (2, 999, 2, 7),  # a chunk that does not divide T (a biquad)
        (2, 60, 5, 3),  # chunks shorter than the order: the state spans chunks
        (1, 10, 12, 4),  # T shorter than the order
        (2, 100, 1, 8),  # first order
        (2, 100, 6, 100),  # one chunk: the sequential filter itself
        (2, 100, 6, 37),  # a last chunk of 26
    ],
)
@pytest.mark.parametrize("with_zi", [False, True])
def test_equals_the_sequential_filter_float64(b, t, n, chunk, with_zi):
    a = _smooth(b, t, n)
    x = torch.randn(b, t, dtype=torch.float64)
    zi = torch.randn(b, n, dtype=torch.float64) if with_zi else None
    ref = torchlpc.sample_wise_lpc(x, a, zi)
    y = lpc_chunked(x, a, zi, chunk)
    assert y.shape == ref.shape
    assert (y - ref).abs().max() <= 1e-12 * ref.abs().max()


@pytest.mark.parametrize("scale", [0.3, 1.0])  # 1.0: poles near the unit circle
@pytest.mark.parametrize("chunk", [16, 256])
def test_float32_rounds_like_the_sequential_filter(scale, chunk):
    """Float32 against the float64 result: held to 4x the sequential float32 filter's own
    error (measured 0.3-2.2x; with the linking algebra in float32 instead, 250-2300x at
    scale 1.0, which this test fails)."""
    g = torch.Generator().manual_seed(3)
    k = logits_to_reflection(scale * torch.randn(4, 50, 22, generator=g, dtype=torch.float64))
    a = interpolate_lpc(k, 100, "reflection")
    x = torch.randn(4, 5000, dtype=torch.float64, generator=g)
    ref = torchlpc.sample_wise_lpc(x, a)
    peak = ref.abs().max()
    seq = (torchlpc.sample_wise_lpc(x.float(), a.float()).double() - ref).abs().max() / peak
    ours = (lpc_chunked(x.float(), a.float(), None, chunk).double() - ref).abs().max() / peak
    assert seq < 1e-3  # float32 rounding, not a broken reference
    assert ours <= 4 * seq


def test_gradients_through_the_chunks():
    """Differentiable as written (the backward of a chunked backward uses it too)."""
    x = torch.randn(2, 30, dtype=torch.float64, requires_grad=True)
    a = (0.5 * _smooth(2, 30, 3, hop=10)).requires_grad_()
    zi = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    fn = lambda x, a, zi: lpc_chunked(x, a, zi, 4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, a, zi))


def test_allpole_second_order_with_chunking_forced(monkeypatch):
    """``allpole`` with the chunk-parallel forward and adjoint (CUDA's path) forced on the CPU:
    first and second derivatives by finite differences, float64."""
    monkeypatch.setenv("DDSP_ALLPOLE_CHUNK", "5")
    x = torch.randn(1, 24, dtype=torch.float64, requires_grad=True)
    a = (0.4 * _smooth(1, 24, 3, hop=8)).requires_grad_()
    zi = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(allpole, (x, a, zi))
    assert torch.autograd.gradgradcheck(allpole, (x, a, zi))


def test_chunk_length_policy(monkeypatch):
    monkeypatch.delenv("DDSP_ALLPOLE_CHUNK", raising=False)
    cpu, accel = torch.zeros(1), torch.zeros(1, device="meta")
    assert chunk_length(cpu, 64000) is None  # the fused sequential kernels are faster there
    assert chunk_length(accel, 64000) == DEFAULT_CHUNK
    assert chunk_length(accel, 3 * DEFAULT_CHUNK) is None  # too few chunks to pay
    monkeypatch.setenv("DDSP_ALLPOLE_CHUNK", "0")
    assert chunk_length(accel, 64000) is None
    monkeypatch.setenv("DDSP_ALLPOLE_CHUNK", "32")
    assert chunk_length(cpu, 100) == 32
    for bad in ("-1", "fast"):
        monkeypatch.setenv("DDSP_ALLPOLE_CHUNK", bad)
        with pytest.raises(ValueError, match="DDSP_ALLPOLE_CHUNK"):
            chunk_length(cpu, 100)


def test_clear_errors():
    x, a = torch.randn(2, 10), torch.zeros(2, 10, 3)
    for bad in (0, -4, 2.5, True):
        with pytest.raises(ValueError, match="chunk must be a positive int"):
            lpc_chunked(x, a, None, bad)
    with pytest.raises(ValueError, match=r"x must be \(B, T\)"):
        lpc_chunked(x, a[:, :9], None, 4)
    with pytest.raises(ValueError, match=r"zi must be \(B, N\)"):
        lpc_chunked(x, a, torch.zeros(2, 2), 4)
