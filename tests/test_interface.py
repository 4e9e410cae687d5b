"""Interface consistency (as diffsptk's): every front-end module, built with non-default
arguments, equals its functional twin called with the same arguments, so no argument is lost
between a module and the function it wraps."""

from __future__ import annotations

import inspect

import pytest
import torch

from ddsp.spectral import (
    CQT,
    MFCC,
    STFT,
    VQT,
    Gammatonegram,
    LogMelSpectrogram,
    MelSpectrogram,
    Spectrogram,
)
from ddsp.spectral import functional as SF

SR = 16000
X = torch.randn(2, 8000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
STFT_KW = dict(
    n_fft=500,
    hop_length=123,
    win_length=400,
    window="hamming",
    center=True,
    pad_mode="reflect",
    normalized=True,
)


def _spec(power: float) -> torch.Tensor:
    return SF.magnitude(SF.stft(X, **STFT_KW), power)


def _mel_kw() -> dict:
    return dict(n_mels=40, f_min=50.0, f_max=7000.0, mel_scale="htk", norm=None, power=1.0)


CASES = {
    "STFT": (lambda: STFT(**STFT_KW), lambda: SF.stft(X, **STFT_KW)),
    "Spectrogram": (lambda: Spectrogram(**STFT_KW, power=1.5), lambda: _spec(1.5)),
    "MelSpectrogram": (
        lambda: MelSpectrogram(SR, **STFT_KW, **_mel_kw()),
        lambda: (
            SF.mel_filterbank(SR, 500, 40, 50.0, 7000.0, "htk", None, torch.float64) @ _spec(1.0)
        ),
    ),
    "LogMelSpectrogram": (
        lambda: LogMelSpectrogram(SR, **STFT_KW, **_mel_kw(), db=True, amin=1e-6, top_db=60.0),
        lambda: SF.power_to_db(
            SF.mel_filterbank(SR, 500, 40, 50.0, 7000.0, "htk", None, torch.float64) @ _spec(1.0),
            amin=1e-6,
            top_db=60.0,
        ),
    ),
    "MFCC": (
        lambda: MFCC(SR, 13, "ortho", 22.0, "log", 1e-4, **STFT_KW, **_mel_kw()),
        lambda: (
            (SF.dct_matrix(40, 13, "ortho") * SF.lifter_weights(13, 22.0))
            @ torch.log(
                SF.mel_filterbank(SR, 500, 40, 50.0, 7000.0, "htk", None, torch.float64)
                @ _spec(1.0)
                + 1e-4
            )
        ),
    ),
    "Gammatonegram": (
        lambda: Gammatonegram(
            SR,
            500,
            123,
            400,
            32,
            60.0,
            6000.0,
            1.5,
            "hamming",
            True,
            "reflect",
            1.0,
            normalized=True,
        ),  # fmt: skip
        lambda: (
            SF.gammatone_filterbank(SR, 500, 32, 60.0, 6000.0, 1.5, torch.float64)[0] @ _spec(1.0)
        ),
    ),
}
CQT_KW = dict(
    hop_length=256,
    f_min=55.0,
    n_bins=36,
    bins_per_octave=12,
    filter_scale=0.8,
    norm=2.0,
    sparsity=0.0,
    window="hamming",
    scale=False,
    pad_mode="reflect",
    method="direct",
    tuning=0.1,
)
CASES["CQT"] = (
    lambda: CQT(SR, **CQT_KW, power=None),
    lambda: SF.cqt(X, SR, **CQT_KW),
)
CASES["VQT"] = (
    lambda: VQT(SR, **CQT_KW, gamma=15.0, power=None),
    lambda: SF.vqt(X, SR, **CQT_KW, gamma=15.0),
)


@pytest.mark.parametrize("name", list(CASES))
def test_module_equals_its_functional_twin(name):
    make, twin = CASES[name]
    ours = make().double()(X)
    ref = twin()
    assert ours.shape == ref.shape, name
    torch.testing.assert_close(ours, ref.to(ours.dtype), rtol=1e-10, atol=1e-10 * ref.abs().max())


def test_every_functional_argument_of_vqt_is_a_module_argument():
    # the CQT/VQT modules wrap vqt: each of its arguments (but the signal) can be given
    module = set(inspect.signature(VQT.__init__).parameters) - {"self"}
    functional = set(inspect.signature(SF.vqt).parameters) - {"x"}
    assert functional <= module, functional - module
