"""The STFT power path that windows in frequency (:mod:`ddsp.spectral._cosine`): the cosine-sum
windows as taps on the unwindowed frames' spectra, against the time-domain window in float64
(and no worse than the time-domain float32 path), through both of its ways (the frames read in
place by the C++ pass with MKL's FFT, :mod:`ddsp.spectral._framed_cpu`, and the group buffers
with torch's FFT where there is no MKL); the group buffer's rows and segments; the kernels'
taps and row map against a direct formula, AVX2 against scalar bit for bit."""

from __future__ import annotations

import pytest
import torch

from ddsp.spectral import _cosine, _framed_cpu, _mkl_cpu, _power_cpu
from ddsp.spectral import functional as SF

pytestmark = pytest.mark.skipif(_power_cpu.ops() is None, reason="no C++ compiler here")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def _signal(b: int = 3, t: int = 6001) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(b, t, generator=g, dtype=torch.float64)
    x[1] *= 1e-3  # a quiet clip beside loud ones
    x[2] = torch.sin(torch.arange(t) * 0.3).double() + 1e-4 * x[2]  # a tone: deep sidelobes
    return x


def _run(x, *args, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return SF.stft_power(x, *args, **kwargs)


@pytest.fixture(params=["framed", "buffers"])
def way(request, monkeypatch) -> str:
    """The frequency-window path's two ways: the C++ pass over the frames in place (MKL's FFT),
    and the group buffers (torch's FFT, where torch has no MKL)."""
    if request.param == "framed" and not _mkl_cpu.available():
        pytest.skip("torch's library exports no MKL FFT here")
    if request.param == "buffers":
        monkeypatch.setattr(_mkl_cpu, "available", lambda: False)
    return request.param


def _spy(monkeypatch) -> list[int]:
    """Counts the calls of the frequency-window path, either way (the C++ pass or the group
    buffers)."""
    calls: list[int] = []
    for module, name in ((_cosine, "grouped_power"), (_framed_cpu, "spectrogram")):
        real = getattr(module, name)

        def spy(*args, real=real, **kwargs):
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "rectangular"])
@pytest.mark.parametrize(("power", "eps"), [(1.0, 0.0), (1.0, 1e-3), (2.0, 0.0)])
@pytest.mark.parametrize(
    ("center", "pad_mode", "normalized"),
    [(True, "constant", False), (True, "reflect", True), (True, "edge", False), (False, "constant", False)],
)  # fmt: skip
def test_frequency_window_equals_time_window(monkeypatch, way, window, power, eps, center, pad_mode, normalized):  # fmt: skip
    """Float32 windowed after the FFT against the time-domain window in float64: within 2x the
    time-domain float32 path's own error (and 1e-6 of the peak). Measured: the two paths' errors
    are within 1.7x of each other either way (4e-7 of the peak at most)."""
    x = _signal()
    args = (512, 128, 512, window, center, pad_mode, normalized, power, eps)
    calls = _spy(monkeypatch)
    ours = _run(x.float(), *args)
    assert calls, "the frequency-window path did not run"
    monkeypatch.setattr(_cosine, "taps", lambda *a, **k: None)
    monkeypatch.setattr(_mkl_cpu, "available", lambda: False)  # no window before the FFT either
    time32, ref = _run(x.float(), *args), _run(x, *args)
    assert len(calls) == 1
    assert ours.shape == ref.shape
    err, time_err = _rel(ours, ref), _rel(time32, ref)
    assert err <= max(2 * time_err, 1e-6), (err, time_err)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_mel_bands_through_the_frequency_window(monkeypatch, way, power):
    x = _signal()
    bands = SF.band_split(SF.mel_filterbank(16000, 1024, 40, dtype=torch.float64))
    calls = _spy(monkeypatch)
    ours = _run(x.float(), 1024, 256, power=power, bands=[(a, b, w.float()) for a, b, w in bands])
    ref = _run(x, 1024, 256, power=power, bands=bands)
    assert calls and _rel(ours, ref) <= 1e-6


@pytest.mark.parametrize("samples", [1 << 12, 1 << 14, 1 << 18])
@pytest.mark.parametrize(("t", "hop"), [(6001, 128), (20000, 100), (3000, 512)])
def test_groups_and_segments(monkeypatch, samples, t, hop):
    """Group buffers of several whole clips, and long clips cut into segments (a smaller
    buffer), give every frame once and in its place: hops that divide the frame and do not,
    one longer than half the frame (no centre padding)."""
    monkeypatch.setattr(_mkl_cpu, "available", lambda: False)
    monkeypatch.setattr(_cosine, "_SAMPLES", samples)
    x = torch.randn(5, t, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for center, mode in ((True, "constant"), (True, "reflect"), (False, "constant")):
        shape = _cosine.plan(t, 1024, hop, center)
        assert shape is not None
        calls = _spy(monkeypatch)
        ours = _run(x.float(), 1024, hop, center=center, pad_mode=mode)
        ref = _run(x, 1024, hop, center=center, pad_mode=mode)
        assert calls and ours.shape == ref.shape and ours.shape[-1] == shape[0]
        assert _rel(ours, ref) <= 1e-6


def test_the_time_domain_path_keeps_the_rest(monkeypatch, way):
    """Odd frames and circular padding keep the time-domain path. Windows that are no cosine
    sum over the whole frame (a tensor, Bartlett, one shorter than the frame) keep it too
    without MKL; with it they go through the same C++ pass, multiplied into the frames before
    the FFT (:mod:`tests.test_framed`). Clips of a few frames, where the group buffers would
    transform more straddling frames than kept ones, keep it without MKL (the C++ pass reads
    every frame in place: it takes them)."""
    x = _signal().float()
    calls = _spy(monkeypatch)
    _run(x, 511, 128)
    _run(x, 512, 128, pad_mode="circular")
    assert not calls
    _run(x, 512, 128, window=torch.hann_window(512))
    _run(x, 512, 128, window="bartlett")
    _run(x, 512, 128, 400, "hann")
    assert len(calls) == 3 * (way == "framed")
    _run(x[:, :300], 512, 128)  # 3 frames a clip, each row 6 frames long: half straddle
    assert len(calls) == 4 * (way == "framed")
    assert _cosine.plan(300, 512, 128, True) is None  # the group buffers' reason
    assert _cosine.plan(600, 512, 256, True) == (3, 3, 4)  # a quarter: still worth it
    assert _cosine.taps("hann", 512, 512) == [0.5, -0.25]
    assert _cosine.taps("blackman", 512, 512, 2.0) == [0.84, -0.5, 0.08]


def _direct(ri: torch.Tensor, taps: list[float]) -> torch.Tensor:
    """The taps on spectra ``(R, n, 2)`` in float64 from the full (Hermitian) spectrum."""
    z = torch.view_as_complex(ri.double().contiguous())
    n = z.shape[-1]
    full = torch.cat([z, z[:, 1 : n - 1].flip(-1).conj()], dim=-1)  # (R, 2n - 2)
    y = taps[0] * full
    for t in range(1, len(taps)):
        y = y + taps[t] * (full.roll(t, -1) + full.roll(-t, -1))
    return y[:, :n]


@pytest.mark.parametrize("taps", [[0.5, -0.25], [0.42, -0.25, 0.04], [1.0]])
@pytest.mark.parametrize("n", [9, 17, 257])
def test_kernel_taps_and_rows(taps, n):
    """The kernels' taps against the formula on the full spectrum (both ends: DC and Nyquist
    read their mirror images), and their row map: row ``j * period + k`` to ``start[j] + k``
    for ``k < count[j]``, the rest nowhere (the output's other rows untouched)."""
    g = torch.Generator().manual_seed(4)
    ri = torch.randn(11, n, 2, generator=g)
    ri[:, 0, 1] = 0
    ri[:, -1, 1] = 0  # a real FFT's DC and Nyquist bins are real
    want = _direct(ri, taps).abs()
    seg = (4, [20, 0, 9], [3, 4, 2])  # rows 0-2 -> 20-22, 4-7 -> 0-3, 8-9 -> 9-10
    out = torch.full((24, n), -1.0)
    assert _power_cpu.spectrum_power(ri, out, 1.0, 0.0, taps, seg)
    kept = {0: 20, 1: 21, 2: 22, 4: 0, 5: 1, 6: 2, 7: 3, 8: 9, 9: 10}
    for r, d in kept.items():
        assert _rel(out[d], want[r]) <= 1e-6
    untouched = [d for d in range(24) if d not in kept.values()]
    assert (out[untouched] == -1).all()
    runs = _power_cpu.filter_runs([(0, n, torch.rand(5, n, generator=g))], torch.float32)
    bands = torch.full((24, 5), -1.0)
    assert _power_cpu.band_power(ri, bands, runs, 2.0, 0.0, taps, seg)
    basis = torch.zeros(5, n)
    for m in range(5):
        s, k, o = (int(v[m]) for v in runs[:3])
        basis[m, s : s + k] = runs[3][o : o + k]
    for r, d in kept.items():
        assert _rel(bands[d], want[r].pow(2) @ basis.double().T) <= 1e-6
    assert (bands[untouched] == -1).all()


def test_kernel_rejects_bad_rows_and_taps():
    ri = torch.randn(8, 17, 2)
    out = torch.empty(8, 17)
    with pytest.raises(RuntimeError, match="segment 1 .* leaves out's 8 rows"):
        _power_cpu.spectrum_power(ri, out, 2.0, 0.0, (), (4, [0, 6], [4, 4]))
    with pytest.raises(RuntimeError, match="do not cover the 8 rows"):
        _power_cpu.spectrum_power(ri, out, 2.0, 0.0, (), (3, [0, 3], [3, 3]))
    with pytest.raises(RuntimeError, match="4 window taps on 17 bins"):
        _power_cpu.spectrum_power(ri, out, 2.0, 0.0, [1.0, 0.1, 0.1, 0.1])
    with pytest.raises(RuntimeError, match="out must have ri's 8 rows"):
        _power_cpu.spectrum_power(ri, torch.empty(9, 17), 2.0, 0.0)


@pytest.mark.skipif(
    _power_cpu.ops() is None or not _power_cpu.ops().simd(),
    reason="no AVX2 here: the kernels run their scalar loops only",
)
@pytest.mark.parametrize("taps", [[0.5, -0.25], [0.42, -0.25, 0.04]])
def test_avx2_taps_give_the_scalar_bits(monkeypatch, taps):
    g = torch.Generator().manual_seed(5)
    ri = torch.randn(13, 65, 2, generator=g)  # 65 bins: a tail past the last 8
    runs = _power_cpu.filter_runs([(0, 65, torch.rand(6, 65, generator=g))], torch.float32)

    def run():
        a, b = torch.empty(13, 65), torch.empty(13, 6)
        _power_cpu.spectrum_power(ri, a, 1.0, 1e-3, taps)
        _power_cpu.band_power(ri, b, runs, 2.0, 0.0, taps)
        return a, b

    fast = run()
    monkeypatch.setenv("DDSP_SIMD", "0")
    slow = run()
    assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1])
