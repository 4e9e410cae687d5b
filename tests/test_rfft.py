"""Real FFTs of odd length as pairs of frames in one complex FFT (ddsp.spectral._rfft)."""

from __future__ import annotations

import pytest
import torch

from ddsp.spectral import functional as SF
from ddsp.spectral._rfft import irfft_frames, paired, rfft_frames


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("n", [1, 3, 509, 2053, 8, 512])  # odd: paired; even: torch.fft
@pytest.mark.parametrize("frames", [1, 2, 7, 40])
def test_forward_and_inverse_equal_torch_fft_in_float64(n, frames):
    x = torch.randn(3, frames, n, dtype=torch.float64)
    assert paired(x, n) == (n % 2 == 1)
    assert _rel(rfft_frames(x), torch.fft.rfft(x)) <= 1e-13
    g = torch.randn(3, frames, n // 2 + 1, dtype=torch.complex128)
    for norm in ("backward", "forward"):
        for interior in (1.0, 0.5):
            want = g.clone()
            want[..., 1 : (n + 1) // 2] *= interior
            want = torch.fft.irfft(want, n=n, norm=norm)
            assert _rel(irfft_frames(g, n, norm, interior), want) <= 1e-13


@pytest.mark.parametrize("n", [509, 1021, 2053])
def test_float32_on_speech_is_as_close_to_float64_as_torch_fft(n, speech):
    """float32 against the float64 transform of the same frames, on a real recording: the
    packing and unpacking add no more than float32's own rounding of the FFT."""
    x = torch.from_numpy(speech[0][: 40 * n]).reshape(40, n)
    ref = torch.fft.rfft(x)
    ours, plain = rfft_frames(x.float()), torch.fft.rfft(x.float())
    assert _rel(ours.to(ref.dtype), ref) <= 2 * _rel(plain.to(ref.dtype), ref) + 1e-7
    g = ref / ref.abs().max()
    ref_inv = torch.fft.irfft(g, n=n)
    ours_inv, plain_inv = irfft_frames(g.to(torch.complex64), n), torch.fft.irfft(g.to(torch.complex64), n=n)  # fmt: skip
    assert _rel(ours_inv.double(), ref_inv) <= 2 * _rel(plain_inv.double(), ref_inv) + 1e-7


def test_out_and_odd_number_of_frames():
    x = torch.randn(5, 3, 101)  # 15 frames: 7 pairs and one alone
    out = torch.empty(5, 3, 51, dtype=torch.complex64)
    assert rfft_frames(x, out=out) is out
    assert _rel(out, torch.fft.rfft(x)) <= 1e-6


def test_odd_stft_gradcheck_and_gradgradcheck():
    """The STFT's real FFT (forward) and its half-size backward run paired for odd n_fft."""
    x = torch.randn(2, 300, dtype=torch.float64, requires_grad=True)

    def fn(v):
        return torch.view_as_real(SF.stft(v, 63, 16))

    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_quiet_frames_keep_their_own_rounding():
    """A frame 120 dB under its partner keeps float32 rounding relative to itself (each frame
    is scaled to unit norm before pairing); digital silence and subnormal frames stay exact."""
    gen = torch.Generator().manual_seed(0)
    loud = torch.randn(8, 509, generator=gen, dtype=torch.float64)
    quiet = 1e-6 * torch.randn(8, 509, generator=gen, dtype=torch.float64)
    x = torch.cat([quiet, loud])  # quiet frame i pairs with loud frame i
    x[3] = 0.0
    x[5] = 1e-42  # subnormal in float32
    ref = torch.fft.rfft(x)
    ours, plain = rfft_frames(x.float()).to(ref.dtype), torch.fft.rfft(x.float()).to(ref.dtype)
    for i in (0, 1, 2, 4, 6, 7):
        assert _rel(ours[i], ref[i]) <= 4 * _rel(plain[i], ref[i]) + 1e-7
    assert torch.equal(ours[3], torch.zeros_like(ours[3]))
    assert torch.isfinite(ours).all() and torch.equal(ours[5], plain[5])
    g = torch.fft.rfft(x)  # the inverse likewise
    g[3] = 0.0
    inv, want = irfft_frames(g.to(torch.complex64), 509), torch.fft.irfft(g, n=509)
    for i in (0, 1, 2, 4, 6, 7):
        assert _rel(inv[i].double(), want[i]) <= 1e-6
    assert torch.equal(inv[3], torch.zeros_like(inv[3])) and torch.isfinite(inv).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_odd_stft_power_blocked_path_with_silence(dtype):
    """The gradient-free blocked spectrogram at an odd n_fft (paired FFTs into its reused
    buffer) equals the magnitude of the STFT, and digital silence stays exactly zero."""
    x = torch.randn(6, 9000, dtype=dtype)
    x[1] = 0.0
    x[4, 3000:6000] = 0.0
    got = SF.stft_power(x, 511, 128)
    ref = SF.magnitude(SF.stft(x.double(), 511, 128)).to(dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert (got.square() - ref.square()).abs().max() <= tol * ref.square().max()
    assert torch.equal(got[1], torch.zeros_like(got[1]))
    assert torch.equal(got[4, :, 30:40], torch.zeros_like(got[4, :, 30:40]))  # inside the gap


@pytest.mark.parametrize("n", [509, 2053])
def test_pairing_kernels_equal_the_eager_pairing(n, monkeypatch):
    """float32: the C++ packing and unpacking (:mod:`ddsp.spectral._pairs_cpu`) against the
    eager torch expressions they replace (within float32 rounding of the peak) and against
    float64 (no worse than 2x ``torch.fft`` in float32); the inverse with the backward's halved
    interior bins and both norms. 21 frames: ten pairs and one alone."""
    from ddsp.spectral import _pairs_cpu, _power_cpu

    if _power_cpu.ops() is None:
        pytest.skip("no C++ compiler here")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 7, n, generator=g, dtype=torch.float64)
    x[1] *= 1e-4  # quiet frames paired with loud ones
    s = torch.randn(3, 7, n // 2 + 1, generator=g, dtype=torch.complex128)
    assert _pairs_cpu.usable(x.float())

    def run():
        out = [rfft_frames(x.float())]
        for norm in ("backward", "forward"):
            out.append(irfft_frames(s.to(torch.complex64), n, norm, 0.5))
        return out

    ours = run()
    with monkeypatch.context() as m:
        m.setitem(_power_cpu._STATE, "ops", None)
        assert not _pairs_cpu.usable(x.float())
        eager = run()
    refs = [torch.fft.rfft(x)]
    for norm in ("backward", "forward"):
        want = s.clone()
        want[..., 1 : (n + 1) // 2] *= 0.5
        refs.append(torch.fft.irfft(want, n=n, norm=norm))
    plain = torch.fft.rfft(x.float()).to(refs[0].dtype)
    for a, b, ref in zip(ours, eager, refs, strict=True):
        assert _rel(a.to(ref.dtype), b.to(ref.dtype)) <= 2e-6
        assert _rel(a.to(ref.dtype), ref) <= 2 * _rel(b.to(ref.dtype), ref) + 1e-7
    assert _rel(ours[0].to(refs[0].dtype), refs[0]) <= 2 * _rel(plain, refs[0]) + 1e-7


@pytest.mark.parametrize("n,hop", [(509, 127), (2053, 513), (63, 16)])
def test_windowed_packing_equals_windowing_first(n, hop, speech, monkeypatch):
    """float32, on a real recording with a quiet example, a digital silence and an odd number
    of frames: the spectra of the framing view windowed inside the C++ packing
    (``rfft_frames(frames, window=)``) equal ``rfft_frames`` of the windowed copy per frame to rounding
    of the norms (2e-6 of each frame's own peak, so quiet frames keep their own rounding) and
    are no further from float64 than it; backward, the unpacking's window product
    (``irfft_frames(..., window=)``) gives the bits of the eager product."""
    from ddsp.spectral import _power_cpu
    from ddsp.spectral._rfft import windowed_pairs
    from ddsp.spectral._stft import cached_window, frames

    if _power_cpu.ops() is None:
        pytest.skip("no C++ compiler here")
    t = 30 * hop + 1  # 31 frames each
    x = torch.from_numpy(speech[0][20000 : 20000 + 3 * t]).reshape(3, t)
    x[1] *= 1e-5
    x[2, t // 3 : 2 * t // 3] = 0.0
    fr = frames(x.float(), n, hop, True, "reflect")  # (3, F, n) view, odd 3 F
    w = cached_window("hann", n, n, torch.float32, torch.device("cpu"))
    assert windowed_pairs(fr, w) and fr.shape[1] % 2 == 1
    ours = rfft_frames(fr, window=w).flatten(0, 1)
    with monkeypatch.context() as m:  # the windowed copy through the eager pairing
        m.setitem(_power_cpu._STATE, "ops", None)
        eager = rfft_frames(fr * w).flatten(0, 1)
    ref = torch.fft.rfft(frames(x, n, hop, True, "reflect") * w.double()).flatten(0, 1)
    peak = ref.abs().amax(-1)
    live = peak > 0
    assert torch.equal(ours[~live], torch.zeros_like(ours[~live]))  # silence stays exact
    assert ((ours - eager).abs().amax(-1)[live] <= 2e-6 * peak[live]).all()
    err_ours = ((ours.to(ref.dtype) - ref).abs().amax(-1) / peak)[live]
    err_eager = ((eager.to(ref.dtype) - ref).abs().amax(-1) / peak)[live]
    assert (err_ours <= 2 * err_eager + 1e-7).all()
    g = torch.randn(ours.shape, dtype=torch.complex64)
    for fast in (True, False):
        with monkeypatch.context() as m:
            if not fast:
                m.setitem(_power_cpu._STATE, "ops", None)
            got = irfft_frames(g, n, "forward", 0.5, window=w)
            if fast:
                fused = got
    assert torch.equal(fused, got)  # the C++ unpacking's product equals the eager one


def test_windowed_stft_gradient_equals_the_windowed_copy(monkeypatch):
    """The STFT's float32 gradient through the windowed packing equals the eager path's bits
    (the same products), at an odd and an even size; a window that requires grad gets its
    gradient through the eager path."""
    from ddsp.spectral import _stft

    x = torch.randn(2, 3, 7001)
    for n in (509, 512):
        runs = []
        for fused in (True, False):
            with monkeypatch.context() as m:
                if not fused:
                    m.setattr(_stft, "windowed_pairs", lambda *a: False)
                v = x.clone().requires_grad_()
                s = SF.stft(v, n, n // 4, pad_mode="reflect")
                torch.view_as_real(s).mul(torch.linspace(-1, 1, 2)).sum().backward()
                runs.append((s.detach(), v.grad))
        assert _rel(torch.view_as_real(runs[0][0]), torch.view_as_real(runs[1][0])) <= 1e-6
        assert torch.equal(runs[0][1], runs[1][1])
    w = torch.hann_window(509, periodic=False).requires_grad_()
    SF.stft(x, 509, 127, window=w).abs().sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()
