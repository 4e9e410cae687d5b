"""All-pole filtering: references, gradients, streaming, shapes, errors, baselines."""

import numpy as np
import pytest
import scipy.signal
import torch

from ddsp.filters import (
    UnstableFilterError,
    allpole,
    allpole_framewise_ola,
    allpole_frequency_sampling,
    allpole_sos,
    freqz,
    lfilter,
    logits_to_biquads,
    lpc_to_reflection,
    ltv_iir,
    magnitudes_to_minimum_phase_ir,
    reflection_to_lpc,
    sos_to_lpc,
)

RNG = np.random.default_rng(0)


def _stable(*shape, dtype=torch.float64):
    return reflection_to_lpc(torch.rand(*shape, dtype=dtype) * 1.6 - 0.8)


def _smooth(batch, t, order, hop=100, dtype=torch.float64):
    """Realistic time variation: frame-rate reflection coefficients interpolated per sample.
    (Independent random coefficients at every sample make direct-form outputs explode.)"""
    from ddsp.filters import interpolate_lpc

    k = torch.rand(batch, -(-t // hop), order, dtype=dtype) * 1.6 - 0.8
    return interpolate_lpc(k, hop, "reflection")[:, :t]


def _reference(x, a, zi=None):
    """float64 loop: y[t] = x[t] - sum_i a[t, i] y[t - i]."""
    b, t = x.shape
    n = a.shape[-1]
    past = np.zeros((b, n)) if zi is None else zi.copy()  # newest first
    y = np.zeros((b, t))
    for s in range(t):
        y[:, s] = x[:, s] - (a[:, s] * past).sum(-1)
        past = np.concatenate([y[:, s : s + 1], past[:, :-1]], 1)
    return y


def test_time_varying_matches_reference_loop():
    x = RNG.standard_normal((2, 300))
    a = _smooth(2, 300, 6, hop=50).numpy()
    zi = RNG.standard_normal((2, 6))
    ours = allpole(torch.from_numpy(x), torch.from_numpy(a), torch.from_numpy(zi)).numpy()
    ref = _reference(x, a, zi)
    assert np.abs(ours - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("order", [1, 2, 10])
def test_time_invariant_matches_scipy(order):
    x = RNG.standard_normal((3, 1000))
    a = _stable(order).numpy()
    ours = allpole(torch.from_numpy(x), torch.from_numpy(a)).numpy()
    assert np.abs(ours - scipy.signal.lfilter([1.0], np.r_[1.0, a], x)).max() <= 1e-10


def test_frames_with_hop_and_any_batch_rank():
    x = torch.randn(2, 3, 400, dtype=torch.float64)
    a = _stable(2, 3, 4, 5)
    y = allpole(x, a, hop_length=100)
    ref = allpole(x, a.repeat_interleave(100, dim=-2))
    assert y.shape == (2, 3, 400) and torch.equal(y, ref)


def test_gradcheck_and_gradgradcheck():
    x = torch.randn(2, 30, dtype=torch.float64, requires_grad=True)
    a = (0.5 * _stable(2, 30, 3)).requires_grad_()
    zi = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(allpole, (x, a, zi))
    assert torch.autograd.gradgradcheck(allpole, (x, a, zi))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_streaming_equals_whole(dtype, tol):
    x = torch.randn(2, 1000, dtype=dtype)
    a = _smooth(2, 1000, 8).to(dtype)
    whole = allpole(x, a)
    state, out = None, []
    for s in range(0, 1000, 137):
        y, state = allpole(x[:, s : s + 137], a[:, s : s + 137], state, return_zf=True)
        out.append(y)
    assert (torch.cat(out, -1) - whole).abs().max() <= tol * whole.abs().max()


def test_sos_cascade():
    x = torch.randn(2, 600, dtype=torch.float64)
    sos = logits_to_biquads(torch.randn(2, 6, 3, 2, dtype=torch.float64))
    # time-invariant: the cascade equals the direct form of the product polynomial
    lti = allpole_sos(x, sos[:, :1].expand(2, 600, 3, 2))
    direct = allpole(x, sos_to_lpc(sos[:, 0]))
    assert (lti - direct).abs().max() <= 1e-10 * direct.abs().max()
    # time-varying: section after section (not the direct form of the product: time-varying
    # systems do not commute), with linear interpolation and streaming
    y = allpole_sos(x, sos, hop_length=100)
    from ddsp.filters import upsample

    per_sample = upsample(sos.reshape(2, 6, 6), 100).reshape(2, 600, 3, 2)
    ref = x
    for s in range(3):
        ref = allpole(ref, per_sample[..., s, :])
    assert (y - ref).abs().max() <= 1e-12 * ref.abs().max()
    y1, zf = allpole_sos(x[:, :250], per_sample[:, :250], return_zf=True)
    y2 = allpole_sos(x[:, 250:], per_sample[:, 250:], zi=zf)
    assert (torch.cat([y1, y2], -1) - y).abs().max() <= 1e-12 * y.abs().max()


def test_clear_errors():
    x = torch.randn(2, 100)
    with pytest.raises(ValueError, match="frames x hop"):
        allpole(x, torch.zeros(2, 3, 4), hop_length=40)
    with pytest.raises(ValueError, match="must be"):
        allpole(x, torch.zeros(2, 99, 4))
    with pytest.raises(ValueError, match="x contains NaN"):
        allpole(torch.full((2, 100), float("nan")), torch.zeros(4))
    with pytest.raises(UnstableFilterError, match="index 1"):
        lpc_to_reflection(torch.tensor([[0.1, 0.0], [-2.5, 1.5]]), check=True)


def test_ltv_iir_and_lfilter_match_scipy():
    x = RNG.standard_normal((2, 500))
    b, a = np.array([0.3, -0.2, 0.1]), np.r_[1.0, _stable(4).numpy()]
    ours = lfilter(torch.from_numpy(b), torch.from_numpy(a), torch.from_numpy(x)).numpy()
    assert np.abs(ours - scipy.signal.lfilter(b, a, x)).max() <= 1e-10
    # time-varying: block-constant coefficients filtered with carried state equal scipy per block
    bt = torch.from_numpy(np.repeat(RNG.standard_normal((2, 2, 3)), 250, axis=1))
    at = _stable(2, 2, 2).repeat_interleave(250, dim=1)
    xt = torch.from_numpy(x)
    y = ltv_iir(xt, bt, at)
    y1, zf = ltv_iir(xt[:, :250], bt[:, :250], at[:, :250], return_zf=True)
    y2 = ltv_iir(xt[:, 250:], bt[:, 250:], at[:, 250:], zi=zf)
    assert (torch.cat([y1, y2], -1) - y).abs().max() <= 1e-12
    for i in range(2):
        ref = scipy.signal.lfilter(bt[i, 0].numpy(), np.r_[1.0, at[i, 0].numpy()], x[i, :250])
        assert np.abs(y[i, :250].numpy() - ref).max() <= 1e-10


def test_pole_zero_gradcheck():
    x = torch.randn(1, 20, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 20, 3, dtype=torch.float64, requires_grad=True)
    a = (0.5 * _stable(1, 20, 2)).requires_grad_()
    assert torch.autograd.gradcheck(ltv_iir, (x, b, a))


def test_freqz_matches_scipy():
    b, a = np.array([0.5, 0.2, -0.1]), np.r_[1.0, _stable(4).numpy()]
    w, h = freqz(torch.from_numpy(b), torch.from_numpy(a), 300)
    w2, h2 = scipy.signal.freqz(b, a, worN=300)
    assert np.abs(h.numpy() - h2).max() <= 1e-10 and np.abs(w.numpy() - w2).max() <= 1e-12


def test_minimum_phase_ir():
    mags = torch.rand(2, 65, dtype=torch.float64) + 0.1
    h = magnitudes_to_minimum_phase_ir(mags, n_fft=2048)
    assert (torch.fft.rfft(h, 2048).abs()[:, ::16] - mags).abs().max() < 1e-9
    # minimum phase: more energy in the first 10 % than any linear-phase version would have
    assert (h[:, :205].square().sum(-1) / h.square().sum(-1)).min() > 0.9


def test_baselines_converge_to_the_exact_filter_for_lti():
    x = torch.randn(2, 4800, dtype=torch.float64)
    a = _stable(4).expand(2, 4800, 4)
    exact = allpole(x, a)
    fs = allpole_frequency_sampling(x, a, 1024)
    ola = allpole_framewise_ola(x, a[:, ::240], 240)
    inner = slice(1000, -1000)
    assert (fs - exact)[:, inner].abs().max() < 1e-3 * exact.abs().max()
    assert (ola - exact)[:, inner].abs().max() < 1e-3 * exact.abs().max()
    assert torch.autograd.gradcheck(
        lambda v: allpole_frequency_sampling(v, a[:1, :256], 64),
        (x[:1, :256].clone().requires_grad_(),),
    )
    aa = _stable(1, 4, 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda c: allpole_framewise_ola(x[:1, :160], c, 40), (aa,))


@pytest.mark.parametrize("order", [1, 2, 7, 9])  # 9: the compiled backward helpers
@pytest.mark.parametrize("with_zi", [False, True])
def test_lean_gradient_equals_torchlpc(order, with_zi):
    from torchlpc import sample_wise_lpc

    from ddsp.filters.allpole_grad import HAS_KERNEL, lpc_filter

    assert HAS_KERNEL, "torchlpc's compiled kernel did not load"
    x = torch.randn(3, 400, dtype=torch.float64, requires_grad=True)
    a = _smooth(3, 400, order).requires_grad_()
    zi = torch.randn(3, order, dtype=torch.float64, requires_grad=True) if with_zi else None
    zi_ref = zi if with_zi else torch.zeros(3, order, dtype=torch.float64)
    g = torch.randn(3, 400, dtype=torch.float64)
    inputs = (x, a, zi) if with_zi else (x, a)
    ours = torch.autograd.grad((lpc_filter(x, a, zi) * g).sum(), inputs)
    ref = torch.autograd.grad((sample_wise_lpc(x, a, zi_ref) * g).sum(), inputs)
    for o, r in zip(ours, ref, strict=True):
        assert (o - r).abs().max() <= 1e-10 * r.abs().max()


@pytest.mark.parametrize(
    "path", ["fused", "torchlpc-based", "torchlpc-based, compiled", "chunk-parallel"]
)
@pytest.mark.parametrize("hop", [None, 1, 5, 40])  # 5 < order: a lag window spans frames
@pytest.mark.parametrize("with_zi", [False, True])
def test_both_backward_paths_equal_torchlpc(path, hop, with_zi, monkeypatch):
    """The fused C++ backward and the torchlpc-kernel backward, per-sample and per-frame; the
    latter with eager helpers (order < 8) and with its torch.compile'd ones (order >= 8, the
    path CUDA takes), which must have compiled rather than fallen back; and the chunk-parallel
    forward and adjoint filter CUDA runs (:mod:`ddsp.filters.allpole_chunked`), forced here."""
    from torchlpc import sample_wise_lpc

    from ddsp.filters import _fused_cpu
    from ddsp.filters.allpole_grad import lpc_filter, lpc_filter_frames

    if path == "fused":
        assert _fused_cpu.load() is not None, "the fused backward did not build"
    elif path == "chunk-parallel":
        monkeypatch.setenv("DDSP_ALLPOLE_CHUNK", "16")  # 400 samples: 25 chunks (26 with zi)
    else:
        monkeypatch.setenv("DDSP_CPP", "0")
        monkeypatch.setitem(_fused_cpu._STATE, "module", None)
    order, b, t = (10 if path.endswith("compiled") else 7), 3, 400
    x = torch.randn(b, t, dtype=torch.float64, requires_grad=True)
    frames = t if hop is None else t // hop
    a = (0.3 * _smooth(b, frames, order)).requires_grad_()
    zi = torch.randn(b, order, dtype=torch.float64, requires_grad=True) if with_zi else None
    zi_ref = zi if with_zi else torch.zeros(b, order, dtype=torch.float64)
    g = torch.randn(b, t, dtype=torch.float64)
    inputs = (x, a, zi) if with_zi else (x, a)
    y = lpc_filter(x, a, zi) if hop is None else lpc_filter_frames(x, a, hop, zi)
    a_ref = a if hop is None else a.repeat_interleave(hop, 1)
    ours = torch.autograd.grad((y * g).sum(), inputs)
    ref = torch.autograd.grad((sample_wise_lpc(x, a_ref, zi_ref) * g).sum(), inputs)
    for o, r in zip(ours, ref, strict=True):
        assert o.shape == r.shape
        assert (o - r).abs().max() <= 1e-10 * r.abs().max()
    if path.endswith("compiled"):
        from ddsp.dsp import COMPILED

        assert {"allpole.skew", "allpole.grad_a"} <= set(COMPILED) and not COMPILED.get("broken")


def test_skew_helpers_equal_their_eager_forms():
    from ddsp.filters.allpole_grad import _shifted_reversed, _skew_gather

    a = torch.randn(2, 50, 10, dtype=torch.float64)
    for extra in (0, 10):
        assert torch.equal(_skew_gather(a, extra), _shifted_reversed(a, extra))


def test_lean_function_second_order():
    from ddsp.filters.allpole_grad import lpc_filter, lpc_filter_frames

    x = torch.randn(1, 16, dtype=torch.float64, requires_grad=True)
    a = (0.4 * _smooth(1, 16, 3, hop=8)).requires_grad_()
    zi = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lpc_filter, (x, a, zi))
    # second order: the backward of the backward runs the differentiable torchlpc-based path
    assert torch.autograd.gradgradcheck(lpc_filter, (x, a, zi))
    af = (0.4 * _smooth(1, 4, 3)).requires_grad_()
    frames = lambda x, a, zi: lpc_filter_frames(x, a, 4, zi)  # noqa: E731
    assert torch.autograd.gradcheck(frames, (x, af, zi))
    assert torch.autograd.gradgradcheck(frames, (x, af, zi))


def test_short_block_state():
    """Blocks shorter than the order still stream exactly (the state takes the old samples)."""
    x = torch.randn(1, 50, dtype=torch.float64)
    a = _stable(6)
    whole = allpole(x, a)
    state, out = None, []
    for s in range(0, 50, 4):
        y, state = allpole(x[:, s : s + 4], a, state, return_zf=True)
        out.append(y)
    assert (torch.cat(out, -1) - whole).abs().max() < 1e-12


@pytest.mark.parametrize("domain", ["reflection", "lar", "lsf"])
def test_sub_hop_interpolation_is_the_held_per_sample_one(domain):
    """sub_hop: the per-sample interpolants at every sub_hop-th sample, held; filtering with
    them equals filtering with the expanded per-sample coefficients."""
    from ddsp.filters import interpolate_lpc, logits_to_lsf, logits_to_reflection

    logits = torch.randn(2, 6, 8, dtype=torch.float64)
    params = logits_to_lsf(logits) if domain == "lsf" else logits_to_reflection(logits)
    full = interpolate_lpc(params, 40, domain)
    sub = interpolate_lpc(params, 40, domain, sub_hop=8)
    assert sub.shape == (2, 30, 8)
    assert torch.allclose(sub, full[:, ::8], atol=1e-12)
    x = torch.randn(2, 240, dtype=torch.float64)
    held = allpole(x, sub, hop_length=8)
    assert torch.allclose(held, allpole(x, sub.repeat_interleave(8, 1)), atol=1e-12)
    with pytest.raises(ValueError, match="sub_hop"):
        interpolate_lpc(params, 40, domain, sub_hop=7)


def test_sos_sub_hop_equals_expanded_held_biquads():
    from ddsp.filters import logits_to_biquads, upsample

    sos = logits_to_biquads(torch.randn(2, 5, 3, 2, dtype=torch.float64))
    x = torch.randn(2, 200, dtype=torch.float64)
    y = allpole_sos(x, sos, hop_length=40, sub_hop=8)
    sub = upsample(sos.reshape(2, 5, 6), 5).reshape(2, 25, 3, 2)  # every 8th sample
    assert torch.allclose(y, allpole_sos(x, sub.repeat_interleave(8, 1)), atol=1e-12)
    g = torch.autograd.gradcheck(
        lambda s: allpole_sos(x[:, :40], s, hop_length=8, sub_hop=4),
        (sos[:, :5].clone().requires_grad_(),),
    )
    assert g


def test_fused_build_is_named_by_what_it_depends_on(monkeypatch, capsys, tmp_path):
    from ddsp.filters import _fused_cpu

    name = _fused_cpu.build_name()
    assert name.startswith("ddsp_allpole_cpu_") and name == _fused_cpu.build_name()
    monkeypatch.setattr(torch, "__file__", "/another/environment/torch/__init__.py")
    other_place = _fused_cpu.build_name()
    assert other_place != name  # another environment: another cache entry, no rebuild ping-pong
    monkeypatch.setattr(torch, "__version__", "0.0.0+other")
    assert _fused_cpu.build_name() not in (name, other_place)  # another torch build
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))  # not the user's cache
    _fused_cpu._say_if_building("ddsp_allpole_cpu_never_built")
    assert "compiling the fused all-pole backward" in capsys.readouterr().err
