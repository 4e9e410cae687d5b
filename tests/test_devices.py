"""Every front-end, loss, filter and synthesiser in float32 on the accelerator (CUDA when there is
one, else the CPU) against float64 on the CPU, forward and input gradient, on real speech.

On a CPU-only machine these check float32 against float64 (the same claims as
test_conditioning, wider); on a CUDA machine (``python experiments/gpu_check.py``) they are
the CPU/CUDA parity checks. TF32 is turned off for them: it is a speed/precision choice a user
makes, not part of the parity.
"""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import DATA

import ddsp.losses as L
from ddsp import spectral
from ddsp.filters import allpole, allpole_sos, fft_convolve, logits_to_biquads, ltv_fir
from ddsp.filters.interpolate import interpolate_lpc
from ddsp.filters.lpc import logits_to_reflection
from ddsp.synth import GlottalFlowLPC, HarmonicPlusNoise, PulseTrainLPC, SawtoothFIR

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SR = 16000


@pytest.fixture(autouse=True)
def _no_tf32():
    if DEVICE == "cuda":
        old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        yield
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    else:
        yield


def _speech(n: int = 8000, batch: int = 2) -> torch.Tensor:
    files = sorted(DATA.glob("*.ogg"))[:batch]
    out = []
    for f in files:
        x, sr = sf.read(str(f), dtype="float64")
        out.append(torch.from_numpy(x[sr // 2 : sr // 2 + n]))
    return torch.stack(out)


def _compare(fn, inputs: list[torch.Tensor], rtol: float, grad_rtol: float) -> None:
    """``fn`` in float64 on the CPU vs float32 on DEVICE: output and the gradients of
    ``sum(out * w)`` (a fixed random ``w``) w.r.t. every input, relative to their peaks."""
    ref_in = [x.detach().double().clone().requires_grad_() for x in inputs]
    dev_in = [x.detach().float().to(DEVICE).clone().requires_grad_() for x in inputs]
    ref, dev = fn(*ref_in), fn(*dev_in)
    w = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (ref * w).sum().backward()
    (dev * w.float().to(DEVICE)).sum().backward()
    scale = ref.detach().abs().max().clamp_min(1e-12)
    assert (dev.detach().cpu().double() - ref.detach()).abs().max() <= rtol * scale
    for r, d in zip(ref_in, dev_in, strict=True):
        peak = r.grad.abs().max().clamp_min(1e-30)
        assert (d.grad.cpu().double() - r.grad).abs().max() <= grad_rtol * peak


FRONT_ENDS = {
    "spectrogram": lambda: spectral.Spectrogram(512, 128),
    "log-mel": lambda: spectral.LogMelSpectrogram(SR, 512, 128, n_mels=64),
    "mfcc": lambda: spectral.MFCC(SR, 20, n_fft=512, hop_length=128, n_mels=64),
    "cqt": lambda: spectral.CQT(SR, 128, f_min=65.0, n_bins=60),
    "vqt": lambda: spectral.VQT(SR, 128, f_min=65.0, n_bins=60, gamma=20.0),
    "gammatone": lambda: spectral.Gammatonegram(SR, 512, 128),
}


@pytest.mark.parametrize("name", list(FRONT_ENDS))
def test_front_end(name):
    module = FRONT_ENDS[name]()

    def fn(x):
        m = module.to(device=x.device, dtype=x.dtype)
        out = m(x)
        return out.abs() if out.is_complex() else out

    _compare(fn, [_speech()], 1e-4, 1e-3)


LOSSES = {
    "mss-ddsp": lambda: L.MultiResolutionSTFTLoss(preset="ddsp"),
    "mss-golf": lambda: L.MultiResolutionSTFTLoss(preset="golf"),
    "mss-auraloss": lambda: L.MultiResolutionSTFTLoss(preset="auraloss"),
    "mel": lambda: L.MelSTFTLoss(SR, 512, 128, n_mels=64),
    "frame-level": lambda: L.FrameLevelLoss(640, 160, highpass_hz=60.0, sample_rate=SR),
    "band-level": lambda: L.BandLevelLoss(SR),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss(name):
    loss = LOSSES[name]()
    x = _speech()
    y = torch.roll(x, 37, -1) * 0.8

    def fn(a, b):
        return loss.to(device=a.device, dtype=a.dtype)(a.unsqueeze(1), b.unsqueeze(1)).reshape(1)

    _compare(fn, [x, y], 1e-4, 1e-3)


def test_allpole_and_biquads():
    g = torch.Generator().manual_seed(1)
    x = _speech(4000)
    k = logits_to_reflection(torch.randn(2, 25, 20, generator=g, dtype=torch.float64) * 0.5)
    a = interpolate_lpc(k, 160, "reflection")  # (2, 4000, 20), stable at every sample
    sos = logits_to_biquads(torch.randn(2, 25, 11, 2, generator=g))
    _compare(lambda x, a: allpole(x, a), [x, a], 1e-3, 1e-3)
    _compare(lambda x, s: allpole_sos(x, s, hop_length=160), [x, sos], 1e-3, 1e-3)


def test_fir_filters():
    g = torch.Generator().manual_seed(2)
    x, h = _speech(4000), torch.randn(2, 300, generator=g)
    irs = torch.randn(2, 25, 64, generator=g)
    _compare(fft_convolve, [x, h], 1e-5, 1e-4)
    _compare(lambda x, k: ltv_fir(x, k, 160), [x, irs], 1e-5, 1e-4)


SYNTHS = {
    "golf-ss": lambda: GlottalFlowLPC(SR, 160, mode="sample"),
    "golf-ff": lambda: GlottalFlowLPC(SR, 160, mode="frame"),
    "hpn": lambda: HarmonicPlusNoise(SR, 160),
    "pulf": lambda: PulseTrainLPC(SR, 160),
    "sawsing": lambda: SawtoothFIR(SR, 160),
}


@pytest.mark.parametrize("name", list(SYNTHS))
def test_synthesiser(name):
    synth = SYNTHS[name]()
    g = torch.Generator().manual_seed(3)
    frames = 30
    f0 = 110 + 60 * torch.rand(1, frames, generator=g, dtype=torch.float64)
    controls = {k: torch.randn(1, frames, n, generator=g) for k, n in synth.control_sizes.items()}
    fixed: dict[str, torch.Tensor] = {}
    if name.startswith("golf"):
        noise = torch.rand(1, frames * 160, generator=g) * 2 - 1
        extra = {"noise": noise}
    else:  # the noise branch draws on the device: silence it, compare the periodic part
        quiet = controls["noise"].clone()
        if name == "pulf":  # the noise filter's gain (its last channel), not its poles
            quiet[..., -1] = -30.0
        else:
            quiet[:] = -30.0
        extra = {}
        fixed = {"noise": quiet}  # its gradient depends on the noise drawn: not compared
    names = [k for k in controls if k not in fixed]

    def fn(f, *cs):
        s = synth.to(device=f.device, dtype=f.dtype)
        kw = {k: v.to(device=f.device, dtype=f.dtype) for k, v in extra.items()}
        c = {k: v.to(device=f.device, dtype=f.dtype) for k, v in fixed.items()}
        return s(f, {**dict(zip(names, cs, strict=True)), **c}, **kw)

    _compare(fn, [f0, *(controls[k] for k in names)], 1e-3, 2e-3)


@pytest.mark.parametrize("name", list(FRONT_ENDS))
def test_module_to_a_dtype_is_the_same_transform(name):
    """``module.to(dtype)`` once dropped the CQT's complex kernels' imaginary part."""
    import copy

    module = FRONT_ENDS[name]()
    x = _speech()
    ref = module(x)
    for dtype in (torch.float64, torch.float32):
        out = copy.deepcopy(module).to(dtype=dtype)(x.to(dtype))
        assert (out.to(ref.dtype) - ref).abs().max() <= 1e-4 * ref.abs().max()


@pytest.mark.skipif(DEVICE != "cuda", reason="needs CUDA (python experiments/gpu_check.py)")
def test_hot_paths_never_stall_the_host():
    """The training hot path (GOLF-ss forward, the all-pole filter and the MSS loss, forward
    and backward) runs with CUDA's sync debug mode set to raise on any host synchronisation:
    the NaN/Inf checks there are device assertions (``ddsp.dsp.device_assert``)."""
    synth = GlottalFlowLPC(SR, 160, mode="sample").to(DEVICE)
    g = torch.Generator().manual_seed(0)
    frames = 50
    f0 = (110 + 60 * torch.rand(4, frames, generator=g)).to(DEVICE)
    controls = {
        k: torch.randn(4, frames, n, generator=g).to(DEVICE).requires_grad_()
        for k, n in synth.control_sizes.items()
    }
    target = _speech(frames * 160, 2).float().repeat(2, 1).to(DEVICE)
    loss_fn = L.MultiResolutionSTFTLoss(preset="golf").to(DEVICE)
    x = target.clone().requires_grad_()
    a = (0.1 * torch.randn(4, frames * 160, 8, generator=g)).to(DEVICE).requires_grad_()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        y = synth(f0, controls)
        loss = loss_fn(y[:, None], target[:, None]) + allpole(x, a).square().mean()
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(loss).item()
