"""The spectral power kernels (:mod:`ddsp.spectral._power_cpu`) behind ``stft_power``'s
gradient-free float32 path, against the eager ops (the kernels switched off) and float64: the
magnitude, the power and their projections on mel, dense and odd-shaped filterbanks; the AVX2
loops against the scalar ones, bit for bit."""

from __future__ import annotations

import os

import pytest
import torch

from ddsp.spectral import _power_cpu
from ddsp.spectral import functional as SF

pytestmark = pytest.mark.skipif(_power_cpu.ops() is None, reason="no C++ compiler here")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def _bands(kind: str, n_fft: int) -> SF.Bands | None:
    bins = n_fft // 2 + 1
    if kind == "none":
        return None
    if kind == "mel":
        return SF.band_split(SF.mel_filterbank(16000, n_fft, 40, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    dense = torch.rand(7, bins, generator=g, dtype=torch.float64)
    dense[3] = 0  # an all-zero filter
    dense[5, : bins // 2] = 0  # one that starts late
    return [(0, bins, dense)]


def _signal(b: int = 3, t: int = 4001) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, t, generator=g, dtype=torch.float64)
    x[1] *= 1e-3  # a quiet clip beside loud ones
    return x


@pytest.mark.parametrize("kind", ["none", "mel", "dense"])
@pytest.mark.parametrize(("power", "eps"), [(1.0, 0.0), (1.0, 1e-4), (2.0, 0.0)])
@pytest.mark.parametrize("n_fft", [512, 509])
def test_kernel_path_equals_eager(monkeypatch, kind, power, eps, n_fft):
    """Float32 through the kernels against float64 (eager) no worse than the eager float32 path
    itself (x2, and a floor of 1e-6 of the peak); without a filterbank, bit for bit. Odd n_fft: 255 bins, not a multiple of 8;
    31 frames a clip, 93 rows, not a multiple of 8. Measured: within 1.1x of eager's error."""
    x, bands = _signal(), _bands(kind, n_fft)

    def run(dtype):
        b = None if bands is None else [(lo, hi, blk.to(dtype)) for lo, hi, blk in bands]
        with torch.no_grad():
            return SF.stft_power(x.to(dtype), n_fft, 128, power=power, eps=eps, bands=b)

    ours = run(torch.float32)
    with monkeypatch.context() as m:
        m.setitem(_power_cpu._STATE, "ops", None)
        assert not _power_cpu.usable(torch.zeros(1), 2.0)
        eager32, ref = run(torch.float32), run(torch.float64)
    assert ours.shape == ref.shape == eager32.shape
    err, eager_err = _rel(ours, ref), _rel(eager32, ref)
    assert err <= max(2 * eager_err, 1e-6), (err, eager_err)
    if kind == "none":  # the same products and sum as eager; the root correctly rounded
        with torch.no_grad():  # (torch's float32 sqrt is not: 1 ulp off for 17 % of values)
            p = SF.stft_power(x.float(), n_fft, 128, power=2.0)
        want = p if power == 2.0 else p.clamp_min(eps).double().sqrt().float()
        assert torch.equal(ours, want)


def test_filter_runs_rebuild_the_basis():
    for bands in (_bands("mel", 512), _bands("dense", 512)):
        basis = torch.zeros(sum(blk.shape[0] for *_, blk in bands), 257, dtype=torch.float64)
        row = 0
        for lo, hi, blk in bands:
            basis[row : row + blk.shape[0], lo:hi] = blk
            row += blk.shape[0]
        start, length, offset, w = _power_cpu.filter_runs(bands, torch.float64)
        rebuilt = torch.zeros_like(basis)
        for m in range(len(start)):
            s, n, o = int(start[m]), int(length[m]), int(offset[m])
            rebuilt[m, s : s + n] = w[o : o + n]
        assert torch.equal(rebuilt, basis)
        assert (w != 0).all() or bands[0][2].shape[0] == 7  # runs skip the zeros at the ends
    assert int(length[3]) == 0  # the dense basis's all-zero filter


@pytest.mark.skipif(
    _power_cpu.ops() is None or not _power_cpu.ops().simd(),
    reason="no AVX2 here: the kernels run their scalar loops only",
)
@pytest.mark.parametrize("kind", ["none", "mel", "dense"])
@pytest.mark.parametrize("power", [1.0, 2.0])
def test_avx2_loops_give_the_scalar_loops_bits(monkeypatch, kind, power):
    x, bands = _signal().float(), _bands(kind, 509)

    def run():
        with torch.no_grad():
            return SF.stft_power(x, 509, 128, power=power, eps=1e-4, bands=bands)

    fast = run()
    monkeypatch.setenv("DDSP_SIMD", "0")
    assert torch.equal(fast, run())


def test_cached_filter_runs_follow_the_blocks():
    """Remembered for the same, unmodified blocks; an in-place change or new blocks recompute."""
    bands = _bands("mel", 512)
    first = _power_cpu.cached_filter_runs(bands, torch.float32)
    assert _power_cpu.cached_filter_runs(bands, torch.float32) is first
    bands[0][2].mul_(2.0)  # in place: the version counter moves
    again = _power_cpu.cached_filter_runs(bands, torch.float32)
    assert again is not first and torch.equal(again[3][:3], 2 * first[3][:3])
    fresh = [(lo, hi, blk.clone()) for lo, hi, blk in bands]
    assert _power_cpu.cached_filter_runs(fresh, torch.float32) is not again
    with torch.inference_mode():
        inf = [(lo, hi, blk.clone()) for lo, hi, blk in bands]
    assert torch.equal(_power_cpu.cached_filter_runs(inf, torch.float32)[3], again[3])


@pytest.mark.parametrize("kind", ["none", "mel"])
@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_found_from_the_output(kind, power, bad):
    """With the kernels the NaN/Inf check reads the output (free there): a bad sample anywhere
    (the first, one in the middle, the last: every sample is in a centred frame) still raises
    the error naming it; finite input whose power overflows gets its own error (it came back as
    inf), with and without gradients; without centre padding the input is checked up front."""
    for n_fft, pos in ((512, 0), (512, 2000), (512, 4000), (255, 1000)):  # 255: 128 bins, no tail
        bands = _bands(kind, n_fft)
        x = _signal().float()
        x[2, pos] = bad
        with pytest.raises(
            ValueError, match=rf"NaN or Inf in signals \(first at flat index {8002 + pos} "
        ):
            with torch.no_grad():
                SF.stft_power(x, n_fft, 64, power=power, bands=bands)
    bands = _bands(kind, 512)
    loud = torch.full((1, 4001), 3e18)  # finite; its power overflows float32
    for grad in (False, True):
        with pytest.raises(ValueError, match=r"overflows torch.float32 .* peaking at 3e\+18"):
            with torch.set_grad_enabled(grad):
                SF.stft_power(loud.requires_grad_(grad), 512, 128, power=2.0, bands=bands)
    assert torch.isfinite(SF.stft_power(loud.double(), 512, 128, power=2.0)).all()
    x = _signal().float()
    x[0, -1] = bad
    with pytest.raises(ValueError, match="NaN or Inf"), torch.no_grad():
        SF.stft_power(x, 512, 600, center=False)  # a hop past the frame: checked up front


def test_the_losses_spectrum_passes_equal_torch_bit_for_bit(monkeypatch):
    """The fused STFT loss's two passes over the prediction's spectrum in C++
    (:mod:`ddsp.losses._fused`): ``|X|^2`` and the gradient ``X * d`` (complex times real),
    on the frame-major layout the STFT writes, give the bits of the same products and sums in
    torch; a transposed (bin-major) spectrum or float64 takes torch's ops; the loss's value and
    input gradient through them equal the eager ones'."""
    from ddsp.losses import MultiResolutionSTFTLoss, _fused

    x = SF.stft(_signal().float(), 509, 127)  # (3, bins, frames), frame-major in memory
    d = torch.rand(x.shape[0], x.shape[2], x.shape[1]).transpose(-1, -2)
    ri = torch.view_as_real(x)
    assert _fused._kernels(x) and not _fused._kernels(x.contiguous())
    assert not _fused._kernels(x.to(torch.complex128))
    assert torch.equal(_fused._power(x), ri[..., 0] * ri[..., 0] + ri[..., 1] * ri[..., 1])
    got = _fused._times(x, d)
    assert got.transpose(-1, -2).is_contiguous()
    assert torch.equal(torch.view_as_real(got), ri * d[..., None])
    pred, target = _signal().float()[:, None], _signal().flip(-1).float()[:, None]
    loss = MultiResolutionSTFTLoss(preset="golf")
    runs = []
    for fused in (True, False):
        with monkeypatch.context() as m:
            if not fused:
                m.setattr(_fused, "_kernels", lambda z: False)
            v = pred.clone().requires_grad_()
            value = loss(v, target)
            value.backward()
            runs.append((value.detach(), v.grad))
    assert _rel(runs[0][0], runs[1][0]) <= 1e-6 and _rel(runs[0][1], runs[1][1]) <= 1e-5


@pytest.mark.skipif(
    os.environ.get("CI") != "true" or os.environ.get("DDSP_CPP", "1") == "0",
    reason="only on CI, where a compiler is part of the set-up",
)
def test_the_cpp_extensions_build_on_ci():
    """CI has a compiler: both C++ extensions must build there. Where one does not, the eager
    fallbacks run with a warning only and hundreds of the kernels' tests skip, so a compile
    error would otherwise pass CI unseen (a broken edit to a kernel did exactly that here,
    locally: 232 skips, no failure)."""
    from ddsp.filters import _fused_cpu

    assert _power_cpu.ops() is not None, "the spectral kernels did not build"
    assert _fused_cpu.load() is not None, "the all-pole and render kernels did not build"
