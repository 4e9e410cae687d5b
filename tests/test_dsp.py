"""The shared DSP primitives (ddsp.dsp) against scipy."""

import math
import os

import numpy as np
import pytest
import scipy.signal
import torch

from ddsp.dsp import fft_convolve, finite_values, kaiser_sinc_lowpass, next_fast_len


def test_fft_convolve_matches_numpy():
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal((3, 1000)), rng.standard_normal((3, 37))
    ours = fft_convolve(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    ref = np.stack([np.convolve(a, b) for a, b in zip(x, h, strict=True)])
    assert np.abs(ours - ref).max() < 1e-12 * np.abs(ref).max()


def test_next_fast_len_is_5_smooth_and_minimal():
    for n in (1, 7, 97, 1000, 4097, 12345):
        m = next_fast_len(n)
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        assert m >= n and k == 1
        assert all(next_fast_len(j) == m for j in range(max(n, m - 1), m + 1))


def test_kaiser_sinc_lowpass_matches_scipy_firwin():
    ours = kaiser_sinc_lowpass(101, 0.45, 8.0).numpy()
    ref = scipy.signal.firwin(101, 0.45, window=("kaiser", 8.0), scale=False)
    ref = ref / ref.sum()
    assert np.abs(ours - ref).max() < 1e-12
    assert abs(ours.sum() - 1.0) < 1e-12
    with pytest.raises(ValueError, match="cutoff"):
        kaiser_sinc_lowpass(11, 1.5, 8.0)


@pytest.mark.parametrize("mode, np_mode", [("constant", "constant"), ("reflect", "reflect"), ("edge", "edge"), ("wrap", "wrap")])  # fmt: skip
def test_center_pad_matches_numpy_pad(mode, np_mode):
    from ddsp.spectral._stft import center_pad

    for n in (1, 2, 3, 8):
        for pad in (1, 3, 7, 20):
            x = np.arange(1.0, n + 1)
            ours = center_pad(torch.from_numpy(x)[None], pad, mode)[0].numpy()
            assert np.array_equal(ours, np.pad(x, pad, mode=np_mode)), (mode, n, pad)
    with pytest.raises(ValueError, match="pad_mode"):
        center_pad(torch.zeros(1, 4), 2, "symmetric")


def test_frame_rms_matches_a_direct_computation_and_gradchecks():
    from ddsp.spectral import frame_rms

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1600))
    hop, frames, width = 160, 11, 640
    padded = np.pad(x, ((0, 0), (width // 2, width // 2)))
    ref = np.stack(
        [
            [np.sqrt(np.mean(padded[b, t * hop : t * hop + width] ** 2)) for t in range(frames)]
            for b in range(2)
        ]
    )
    ours = frame_rms(torch.from_numpy(x), hop, frames).numpy()
    assert np.abs(ours - ref).max() < 1e-12
    v = torch.from_numpy(x[:, :480]).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: frame_rms(t, 160, 4), (v,))


def test_overlap_add_is_the_sum_of_shifted_frames():
    from ddsp.dsp import overlap_add

    frames = torch.randn(2, 3, 7, 10, dtype=torch.float64)  # (..., n_frames, frame_length)
    for hop in (1, 4, 10, 13):  # overlapping, touching and gapped frames
        total = 6 * hop + 10
        ref = torch.zeros(2, 3, total, dtype=torch.float64)
        for k in range(7):
            ref[..., k * hop : k * hop + 10] += frames[..., k, :]
        assert torch.allclose(overlap_add(frames, hop), ref, rtol=0, atol=1e-14)
        traced = torch.jit.trace(lambda f, h=hop: overlap_add(f, h), (frames,))  # F.fold there
        assert torch.allclose(traced(frames), ref, rtol=0, atol=1e-14)


@pytest.mark.parametrize("length,hop", [(7, 3), (10, 10), (5, 9), (16, 4), (1, 1)])
def test_frame_and_overlap_add_are_each_others_gradient(length, hop):
    """``frame`` is ``unfold`` with ``overlap_add`` (strided adds) as its backward, and the other
    way round; first and second order, samples past the last frame included."""
    from ddsp.dsp import frame, overlap_add

    x = torch.randn(2, 53, dtype=torch.float64, requires_grad=True)
    assert torch.equal(frame(x, length, hop), x.unfold(-1, length, hop))
    assert torch.autograd.gradcheck(lambda v: frame(v, length, hop) * 2, (x,))
    assert torch.autograd.gradgradcheck(lambda v: frame(v, length, hop) * 2, (x,))
    f = torch.randn(2, 6, length, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: overlap_add(v, hop), (f,))
    assert torch.autograd.gradgradcheck(lambda v: overlap_add(v, hop), (f,))


def test_finite_check_reads_one_sum_and_clears_an_overflowing_one():
    finite_values(torch.tensor([3e38, 3e38]))  # finite values whose float32 sum is inf
    with pytest.raises(
        ValueError, match=r"NaN or Inf in x \(first at flat index 2 of shape \(4,\): -inf"
    ):
        finite_values(torch.tensor([1.0, 2.0, -math.inf, math.nan]), "x")


def test_frame_and_overlap_add_refuse_bad_sizes():
    from ddsp.dsp import frame, overlap_add

    with pytest.raises(ValueError, match="frame_length must be a positive int, got 0"):
        frame(torch.randn(10), 0, 1)
    with pytest.raises(ValueError, match="hop_length must be a positive int, got 0"):
        frame(torch.randn(10), 4, 0)
    with pytest.raises(ValueError, match="hop_length must be a positive int, got 0"):
        overlap_add(torch.randn(3, 4), 0)
    with pytest.raises(ValueError, match=r"expects \(..., n_frames, frame_length\), got \(4,\)"):
        overlap_add(torch.randn(4), 2)


def test_empty_huge_is_a_usable_zeroed_tensor(monkeypatch):
    """Large: zero-filled, writable, the right shape and dtype, alive after the caller's
    references to its mapping are gone; small or switched off: plain ``torch.empty``."""
    import gc

    from ddsp.dsp import HUGE_MIN_BYTES, empty_huge

    rows = HUGE_MIN_BYTES // (8 * 100) + 1
    t = empty_huge(rows, 100, dtype=torch.float64)
    assert t.shape == (rows, 100) and t.dtype == torch.float64 and t.is_contiguous()
    assert t.abs().sum() == 0
    gc.collect()
    t.fill_(2.0)
    assert float(t.sum()) == 2.0 * rows * 100
    assert empty_huge(3, 4).shape == (3, 4)
    monkeypatch.setenv("DDSP_HUGEPAGES", "0")
    assert empty_huge(rows, 100).shape == (rows, 100)


def test_recycled_huge_memory_is_reused_only_when_nothing_holds_it(monkeypatch):
    """``recycle=True``: a mapping comes back only once no tensor (not even a view) holds it,
    so a live result is never overwritten; idle mappings beyond the cap are dropped, held ones
    never."""
    import gc

    from ddsp import dsp

    monkeypatch.setattr(dsp, "_RECYCLED", [])
    rows = dsp.HUGE_MIN_BYTES // (4 * 100) + 1
    a = dsp.empty_huge(rows, 100, recycle=True).fill_(1.0)
    view, ptr = a[3], a.data_ptr()
    del a
    gc.collect()
    b = dsp.empty_huge(rows, 100, recycle=True).fill_(2.0)  # the view still holds a's memory
    assert b.data_ptr() != ptr and float(view.sum()) == 100.0
    del view
    gc.collect()
    c = dsp.empty_huge(rows, 100, recycle=True)
    assert c.data_ptr() == ptr and len(dsp._RECYCLED) == 2  # a's, reused
    assert dsp.empty_huge(rows + 1, 100, recycle=True).data_ptr() not in (ptr, b.data_ptr())
    monkeypatch.setattr(dsp, "RECYCLE_MAX_BYTES", 0)
    del c
    gc.collect()
    d = dsp.empty_huge(rows, 100, recycle=True)  # trims: only the mappings held remain
    assert sorted(len(m) for m in dsp._RECYCLED) == [rows * 400] * 2  # b's and d's
    assert float(b.sum()) == 2.0 * rows * 100 and d.data_ptr() == ptr


def test_values_within_names_the_first_value_outside():
    """Closed and open intervals, NaN, the one-sided [low, inf] and 'finite and >= low'
    ([low, finfo.max]) fast paths, and finite values whose sum overflows (no error)."""
    from ddsp.dsp import values_within

    x = torch.tensor([[0.5, 0.2], [1.0, -0.1]])
    values_within(x, "x", -1.0, 1.0)
    with pytest.raises(ValueError, match=r"x must be in \(-1, 1\), got 1.0 at flat index 2"):
        values_within(x, "x", -1.0, 1.0, closed=False)
    with pytest.raises(ValueError, match=r"x must be in \[0, inf\], got -0.1.* index 3.*: hint"):
        values_within(x, "x", 0.0, hint=": hint")
    big = torch.finfo(torch.float32).max
    for bad in (math.nan, math.inf):
        y = x.abs().clone()
        y[0, 1] = bad
        with pytest.raises(ValueError, match=rf"got {bad} at flat index 1"):
            values_within(y, "y", 0.0, big)
    assert values_within(torch.full((4,), 3e38), "z", 0.0, big) is None  # the sum overflows
    assert values_within(torch.empty(0), "e", 0.0, 1.0) is None


def test_compiled_falls_back_to_eager_once_compiling_fails(monkeypatch):
    """Where torch.compile cannot build (no C++ compiler, a device inductor lacks),
    ``ddsp.dsp.compiled`` warns once and runs the eager function, and so does every compiled
    function after it."""
    import warnings

    from ddsp import dsp

    def no_compiler(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler here")

        return run

    monkeypatch.setattr(dsp, "COMPILED", {})
    monkeypatch.delenv("DDSP_COMPILE", raising=False)
    monkeypatch.setattr(torch, "compile", no_compiler)
    x = torch.linspace(-1.0, 1.0, 37)
    with pytest.warns(UserWarning, match="torch.compile unavailable .*no C.. compiler here"):
        assert torch.equal(dsp.compiled("test.square", torch.square)(x), x.square())
    assert dsp.COMPILED["broken"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(dsp.compiled("test.exp", torch.exp)(x), x.exp())


@pytest.mark.parametrize("capability", [None, "avx2", "default"])
def test_compiled_graphs_are_keyed_by_the_cpu_vector_isa(monkeypatch, capability):
    """``compiled`` names the vector width inductor would pick here (``cpp.simdlen``: 0 for
    none), and that width makes inductor pick the same ISA: its FX graph cache keys graphs by
    its config, not by the ISA (torch 2.13), so the width keeps a graph generated for one ISA
    from being built and run for another."""
    from torch._inductor import config, cpu_vec_isa

    from ddsp import dsp

    if capability is None:
        monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    else:
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", capability)
    seen = {}

    def capture(fn, **kwargs):
        seen.update(kwargs["options"])
        return fn

    monkeypatch.setattr(dsp, "COMPILED", {})
    monkeypatch.delenv("DDSP_COMPILE", raising=False)
    monkeypatch.setattr(torch, "compile", capture)
    dsp.compiled("test.square", torch.square)
    auto = cpu_vec_isa.pick_vec_isa()
    assert seen["cpp.simdlen"] == (auto.bit_width() if auto else 0)
    with config.patch({"cpp.simdlen": seen["cpp.simdlen"]}):
        assert str(cpu_vec_isa.pick_vec_isa()) == str(auto)
    assert dsp.keyed_by_vector_isa({"cpp.simdlen": 256, "x": 1})["x"] == 1


def test_compiled_is_exact_under_another_vector_isa_sharing_the_cache():
    """A graph compiled by ``ddsp.dsp.compiled`` in one process, then the same graph in a
    process whose ATen runs AVX2 kernels (``ATEN_CPU_CAPABILITY=avx2``) with the same inductor
    cache: equal to eager. Without the ISA in the key the second process reused the AVX-512
    graph and built it for AVX2: 5.8e25 off (half its lanes never written)."""
    import subprocess
    import sys

    from torch._inductor import cpu_vec_isa

    auto = cpu_vec_isa.pick_vec_isa()
    if not auto or auto.bit_width() <= 256:
        pytest.skip(f"inductor targets {auto} here: no wider ISA to fall back from to AVX2")
    code = (
        "import torch; from ddsp import dsp\n"
        "f = lambda x: (x * 1.5 + 0.25).square()\n"
        "x = torch.linspace(-1.0, 1.0, 37)\n"
        "y = dsp.compiled('test.isa', f)(x)\n"
        "assert 'broken' not in dsp.COMPILED, 'did not compile'\n"
        "print(float((y - f(x)).abs().max()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "DDSP_COMPILE")}
    for capability in (None, "avx2"):
        run_env = env if capability is None else {**env, "ATEN_CPU_CAPABILITY": capability}
        out = subprocess.run(
            [sys.executable, "-c", code], env=run_env, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert float(out.stdout.split()[-1]) == 0.0, (capability, out.stdout)
