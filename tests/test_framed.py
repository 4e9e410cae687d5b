"""MKL's FFTs with their plans kept (:mod:`ddsp.spectral._mkl_cpu`) against ``torch.fft.rfft``,
``fft`` and ``ifft`` bit for bit, and the C++ pass over frames in place
(:mod:`ddsp.spectral._framed_cpu`): blocks of every size against the time-domain window in
float64 (frames before, inside and after the padding in one block; clips with no frame wholly
inside), any other window multiplied into the frames before the FFT, the same bits on one
thread and two, AVX2 and scalar."""

from __future__ import annotations

import pytest
import torch

from ddsp.spectral import _framed_cpu, _mkl_cpu, _power_cpu
from ddsp.spectral import functional as SF

pytestmark = pytest.mark.skipif(
    _power_cpu.ops() is None or not _mkl_cpu.available(),
    reason="no C++ compiler here, or torch's library exports no MKL FFT",
)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def _power(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return SF.stft_power(x, *args, **kwargs)


@pytest.mark.parametrize(("n", "hop", "frames"), [(2048, 512, 157), (512, 512, 1), (1000, 300, 7), (64, 1, 40)])  # fmt: skip
def test_planned_rfft_is_torchs_bit_for_bit(n, hop, frames):
    x = torch.randn((frames - 1) * hop + n + 5, generator=torch.Generator().manual_seed(0))
    want = torch.fft.rfft(x.as_strided((frames, n), (hop, 1)))
    for _ in range(2):  # the second call runs the kept plan
        out = torch.empty(frames, n // 2 + 1, dtype=torch.complex64)
        assert torch.equal(_mkl_cpu.rfft_frames(x, frames, n, hop, out), want)


def test_planned_rfft_keeps_the_right_plan_among_many():
    """More shapes than plans kept (16): every call still runs its own shape's plan."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20000, generator=g)
    for round_ in range(2):
        for frames in range(1, 21):
            n, hop = 256 + 2 * frames, 50 + frames
            out = torch.empty(frames, n // 2 + 1, dtype=torch.complex64)
            want = torch.fft.rfft(x.as_strided((frames, n), (hop, 1)))
            assert torch.equal(_mkl_cpu.rfft_frames(x, frames, n, hop, out), want), (round_, frames)


def test_planned_rfft_rejects_bad_arguments():
    x = torch.randn(1000)
    with pytest.raises(RuntimeError, match="4 frames of 512 samples 200 apart need 1112 samples, x has 1000"):  # fmt: skip
        _mkl_cpu.rfft_frames(x, 4, 512, 200, torch.empty(4, 257, dtype=torch.complex64))
    with pytest.raises(RuntimeError, match=r"out must be a contiguous complex64 \(2, 257\)"):
        _mkl_cpu.rfft_frames(x, 2, 512, 200, torch.empty(2, 256, dtype=torch.complex64))
    with pytest.raises(RuntimeError, match="x must be a contiguous float32"):
        _mkl_cpu.rfft_frames(x.double(), 2, 512, 200, torch.empty(2, 257, dtype=torch.complex64))


@pytest.mark.filterwarnings("ignore:n_fft=512 is too large")
@pytest.mark.parametrize("block", [1, 3, 8, 32])
@pytest.mark.parametrize(("t", "n", "hop"), [(6001, 512, 128), (6001, 1024, 100), (300, 512, 128), (700, 512, 700), (5000, 256, 64)])  # fmt: skip
def test_blocks_of_every_size(monkeypatch, block, t, n, hop):
    """Blocks that start before the padding ends, straddle both ends, and clips with no frame
    wholly inside the signal (300 samples, n 512); zero, reflected and edge padding, and none:
    float32 within 1e-6 of the peak of the time-domain window in float64 (mel bands too)."""
    monkeypatch.setattr(_framed_cpu, "BLOCK", block)
    calls = []
    real = _framed_cpu.framed_power
    monkeypatch.setattr(_framed_cpu, "framed_power", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(3, t, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x[1] *= 1e-3
    for center, mode in ((True, "constant"), (True, "reflect"), (True, "edge"), (False, "constant")):  # fmt: skip
        if (not center and t < n) or (mode == "reflect" and t <= n // 2):
            continue  # no frame without padding; reflect padding needs more samples than it pads
        ours, ref = _power(x.float(), n, hop, center=center, pad_mode=mode), _power(x, n, hop, center=center, pad_mode=mode)  # fmt: skip
        assert ours.shape == ref.shape and _rel(ours, ref) <= 1e-6, (center, mode)
    bands = SF.band_split(SF.mel_filterbank(16000, n, 20, dtype=torch.float64))
    ours = _power(x.float(), n, hop, power=1.0, bands=[(a, b, w.float()) for a, b, w in bands])
    assert _rel(ours, _power(x, n, hop, power=1.0, bands=bands)) <= 1e-6
    assert calls


@pytest.mark.parametrize("block", [3, 32])
@pytest.mark.parametrize(
    "window",
    [
        {"window": "bartlett"},
        {"win_length": 400},
        {"win_length": 300, "window": "hamming", "normalized": True},
        {"window": "tensor"},
    ],
)
def test_any_window_before_the_fft(monkeypatch, block, window):
    """Windows that are no cosine sum over the frame (Bartlett, shorter ones centred in it, a
    tensor) go through the same pass, multiplied into the frames before the FFT: float32 within
    2x the time-domain path's own float32 error against float64 (and 1e-6 of the peak)."""
    monkeypatch.setattr(_framed_cpu, "BLOCK", block)
    calls = []
    real = _framed_cpu.framed_power
    monkeypatch.setattr(_framed_cpu, "framed_power", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(3, 6001, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x[2] *= 1e-3
    kw64 = dict(window)
    if kw64.get("window") == "tensor":
        kw64["window"] = torch.rand(512, generator=torch.Generator().manual_seed(6)).double()
    kw32 = {k: v.float() if isinstance(v, torch.Tensor) else v for k, v in kw64.items()}
    bands = SF.band_split(SF.mel_filterbank(16000, 512, 20, dtype=torch.float64))
    bands32 = [(a, b, w.float()) for a, b, w in bands]
    for center, mode in ((True, "constant"), (True, "reflect"), (False, "constant")):
        for extra, extra32 in (({}, {}), ({"bands": bands}, {"bands": bands32})):
            args = (512, 128)
            opts = {"center": center, "pad_mode": mode}
            ref = _power(x, *args, **opts, **kw64, **extra)
            ours = _power(x.float(), *args, **opts, **kw32, **extra32)
            n = len(calls)
            with monkeypatch.context() as m:  # the time-domain path
                m.setattr(_mkl_cpu, "available", lambda: False)
                time32 = _power(x.float(), *args, **opts, **kw32, **extra32)
            assert len(calls) == n, "the time-domain path ran the C++ pass"
            err, time_err = _rel(ours, ref), _rel(time32, ref)
            assert ours.shape == ref.shape and err <= max(2 * time_err, 1e-6), (err, time_err)
    assert len(calls) == 6


@pytest.mark.parametrize("block", [1, 7, 256])
@pytest.mark.parametrize(("t", "hop"), [(6001, 64), (6001, 256), (300, 4), (100, 32), (5000, 300)])
def test_framed_matmul_is_the_framed_copy_times_k(monkeypatch, block, t, hop):
    """The CQT octaves' frames times kernels a block at a time: frames before, inside and after
    the padding, clips with no frame wholly inside (100 samples, n 256), hops below, at and
    above the frame, zero, reflected and edge padding, a strided input: float32 within 1e-6 of
    the peak of float64's framed copy times k, and no further from it than float32's."""
    from ddsp.spectral._stft import frames

    monkeypatch.setattr(_framed_cpu, "MATMUL_BLOCK", block)
    n, g = 256, torch.Generator().manual_seed(8)
    x = torch.randn(3, 2 * t, generator=g, dtype=torch.float64)[:, ::2]
    x[1] *= 1e-3
    k = torch.randn(n, 24, generator=g, dtype=torch.float64)
    for mode in ("constant", "reflect", "replicate"):
        if mode == "reflect" and t <= n // 2:
            continue  # reflect padding needs more samples than it pads
        ref = frames(x, n, hop, True, mode) @ k
        eager = frames(x.float(), n, hop, True, mode) @ k.float()
        ours = _framed_cpu.framed_matmul(x.float(), n, hop, True, mode, k.float())
        assert ours.shape == ref.shape and _rel(ours, ref) <= max(1e-6, _rel(eager, ref)), mode
    assert _framed_cpu.framed_matmul(torch.zeros(2, 100), n, 32, False, "constant", k.float()) is None  # fmt: skip


@pytest.mark.parametrize("block", [1, 7, 256])
@pytest.mark.parametrize("power", [1.0, 2.0])
def test_framed_matmul_power_writes_the_magnitudes_bin_major(monkeypatch, block, power):
    """The magnitudes (or powers) of the framed products written bin-major into rows ``row0 ..``
    of a bigger output, the first ``kept`` frames only, other rows untouched: equal to the
    magnitude of :func:`framed_matmul`'s complex products to rounding, every block size."""
    monkeypatch.setattr(_framed_cpu, "MATMUL_BLOCK", block)
    g = torch.Generator().manual_seed(10)
    x = torch.randn(3, 6001, generator=g)
    k = torch.randn(256, 24, generator=g)
    z = torch.view_as_complex(
        _framed_cpu.framed_matmul(x, 256, 64, True, "reflect", k).view(3, -1, 12, 2)
    )
    kept = z.shape[1] - 5
    out = torch.full((3, 40, kept), -1.0)
    assert _framed_cpu.framed_matmul_power(x, 256, 64, "reflect", k, out, 20, power)
    want = z.abs().pow(power).transpose(1, 2)[..., :kept]
    assert (out[:, 20:32] - want).abs().max() <= 1e-6 * want.abs().max()
    assert (out[:, :20] == -1).all() and (out[:, 32:] == -1).all()
    too_many = torch.empty(3, 40, z.shape[1] + 1)  # more frames than the signal has
    assert not _framed_cpu.framed_matmul_power(x, 256, 64, "reflect", k, too_many, 0, power)


def test_threads_and_simd_give_the_same_bits(monkeypatch):
    """The blocks' order over threads changes nothing; nor do the AVX2 loops (bands: a last
    group of fewer than 8 frames repeats its last frame into scratch)."""
    x = torch.randn(5, 7000, generator=torch.Generator().manual_seed(3))
    bands = SF.band_split(SF.mel_filterbank(16000, 512, 40))
    monkeypatch.setattr(_framed_cpu, "BLOCK", 13)

    def run():
        return _power(x, 512, 128), _power(x, 512, 128, bands=bands)

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run()
        torch.set_num_threads(2)
        two = run()
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))
    if _power_cpu.ops().simd():
        monkeypatch.setenv("DDSP_SIMD", "0")
        assert all(torch.equal(a, b) for a, b in zip(run(), one, strict=True))


@pytest.mark.parametrize("n", [509, 2053, 2048, 7])
@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
def test_planned_complex_fft_is_torchs_bit_for_bit(n, norm):
    """The paired real FFTs' complex transforms (:mod:`ddsp.spectral._rfft`), planned once:
    forward and inverse, every norm, twice (the second call runs the kept plan)."""
    z = torch.randn(9, n, dtype=torch.complex64, generator=torch.Generator().manual_seed(n))
    for _ in range(2):
        assert torch.equal(_mkl_cpu.fft_rows(z, False, norm), torch.fft.fft(z, norm=norm))
        assert torch.equal(_mkl_cpu.fft_rows(z, True, norm), torch.fft.ifft(z, norm=norm))
    with pytest.raises(ValueError, match="norm must be"):
        _mkl_cpu.fft_rows(z, False, "half")
    assert not _mkl_cpu.planned(z.to(torch.complex128))
    assert not _mkl_cpu.planned(z.t())
    assert not _mkl_cpu.planned(z.clone().requires_grad_())


@pytest.mark.parametrize("block", [3, 32])
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"window": "hamming", "normalized": True},
        {"win_length": 400, "pad_mode": "reflect"},
        {"window": "tensor", "pad_mode": "edge"},
        {"center": False},
    ],
)
def test_complex_stft_through_the_pass(monkeypatch, block, opts):
    """The complex STFT without gradient: each block of frames times the window, FFT'd straight
    into the output; float32 within 2x the eager path's own float32 error against float64 (and
    1e-6 of the peak), batch dimensions kept, and a gradient asked takes the eager path."""
    monkeypatch.setattr(_framed_cpu, "BLOCK", block)
    calls = []
    real = _framed_cpu.framed_spectrum
    monkeypatch.setattr(_framed_cpu, "framed_spectrum", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(2, 3, 6001, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x[1, 2] *= 1e-3
    kw64 = dict(opts)
    if kw64.get("window") == "tensor":
        kw64["window"] = torch.rand(512, generator=torch.Generator().manual_seed(8)).double()
    kw32 = {k: v.float() if isinstance(v, torch.Tensor) else v for k, v in kw64.items()}
    ref = SF.stft(x, 512, 128, **kw64)
    with torch.no_grad():
        ours = SF.stft(x.float(), 512, 128, **kw32)
    assert calls == [1]
    with monkeypatch.context() as m:
        m.setattr(_mkl_cpu, "available", lambda: False)
        eager = SF.stft(x.float(), 512, 128, **kw32)
    err, eager_err = _rel(torch.view_as_real(ours), torch.view_as_real(ref)), _rel(torch.view_as_real(eager), torch.view_as_real(ref))  # fmt: skip
    assert ours.shape == ref.shape == (2, 3, 257, ref.shape[-1])
    assert err <= max(2 * eager_err, 1e-6), (err, eager_err)
    SF.stft(x.float().requires_grad_(), 512, 128, **kw32).abs().sum().backward()
    assert calls == [1]
