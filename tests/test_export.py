"""The decoder exports with torch.jit.trace and the exported model matches eager."""

import warnings

import torch
from hydra.utils import instantiate

from ddsp.training import compose_config


class _Decoder(torch.nn.Module):
    """Tensor-only signature for tracing:
    ``(f0, source, noise, vocal_tract, voiced, white_noise) -> audio``."""

    def __init__(self, synth: torch.nn.Module) -> None:
        super().__init__()
        self.synth = synth

    def forward(self, f0, source, noise, vocal_tract, voiced, white_noise):
        controls = {"source": source, "noise": noise, "vocal_tract": vocal_tract}
        return self.synth(f0, controls, voiced=voiced, noise=white_noise)


def test_traced_golf_decoder_saves_loads_and_matches_eager(tmp_path):
    cfg = compose_config("experiment=lpc_vocoder")
    synth = instantiate(cfg.model.synth).eval()
    sizes = synth.control_sizes
    hop = cfg.data.hop_length

    def inputs(frames: int) -> tuple[torch.Tensor, ...]:
        return (
            120.0 + 80.0 * torch.rand(2, frames),
            0.5 * torch.randn(2, frames, sizes["source"]),
            0.5 * torch.randn(2, frames, sizes["noise"]),
            0.5 * torch.randn(2, frames, sizes["vocal_tract"]),
            (torch.rand(2, frames) > 0.3).float(),
            torch.rand(2, frames * hop) * 2 - 1,  # the white noise is an input: deterministic
        )

    decoder = _Decoder(synth)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about Python ints taken from shapes
        traced = torch.jit.trace(decoder, inputs(40), check_trace=False)
        traced.save(str(tmp_path / "golf_decoder.pt"))
        loaded = torch.jit.load(str(tmp_path / "golf_decoder.pt"))  # needs `import torchlpc`
        # the traced length and a shorter one; longer inputs fail: the FFT sizes of the
        # decimator and noise FIR are fixed when tracing, so trace at the longest clip or block
        for frames in (40, 23):
            args = inputs(frames)
            eager, out = decoder(*args), loaded(*args)
            assert out.shape == eager.shape == (2, frames * hop)
            assert (out - eager).abs().max() <= 1e-5 * eager.abs().max()
