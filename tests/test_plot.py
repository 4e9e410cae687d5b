"""Figures are produced with the right content (no display needed)."""

import torch

from ddsp.filters import lpc_analysis, poles_to_lpc
from ddsp.plot import figure_to_array, plot_filter_response, plot_resynthesis


def test_filter_response_plot_marks_every_pole(speech):
    a = poles_to_lpc(
        torch.tensor([[0.9, 0.5], [0.95, 0.7]]), torch.tensor([[0.3, 1.2], [0.8, 2.0]])
    )
    fig = plot_filter_response(a, sample_rate=16000, labels=["one", "two"])
    ax_mag, ax_pz = fig.axes
    assert len(ax_mag.lines) == 2
    assert sum(len(line.get_xdata()) for line in ax_pz.lines[1:]) == 8  # 2 filters x 4 poles
    assert figure_to_array(fig).ndim == 3
    x = torch.from_numpy(speech[0][:22050]).float()
    lpc, _, _ = lpc_analysis(x, 22, 1024, 512)
    assert figure_to_array(plot_filter_response(lpc[5:8], sample_rate=speech[1])).shape[-1] == 3


def test_resynthesis_figure():
    fig = plot_resynthesis(torch.randn(8000), torch.randn(8000), 16000, "t")
    assert len(fig.axes) >= 2
    assert figure_to_array(fig).shape[-1] == 3
    from ddsp import plot
    from ddsp.spectral import functional as SF

    # as Lightning's first validation draws it: the CQT panel's module and its plan are built
    # under inference mode, of inference tensors (the module's kernel cache once failed there)
    caches = (plot._note_cqt, SF.cqt_plan)
    for cache in caches:
        cache.cache_clear()
    try:
        with torch.inference_mode():
            fig = plot_resynthesis(torch.randn(8000), torch.randn(8000), 16000, "t")
        assert figure_to_array(fig).shape[-1] == 3
    finally:  # later tests get modules of ordinary tensors
        for cache in caches:
            cache.cache_clear()


def test_every_front_end_plots_with_its_axis(speech):
    import matplotlib.pyplot as plt

    from ddsp.plot import plot_cqt, plot_features
    from ddsp.spectral import MFCC, Gammatonegram, MelSpectrogram

    x = torch.from_numpy(speech[0][:22050]).float()
    sr = speech[1]
    ax = plot_cqt(x, sr, title="cqt")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels and all(lab.startswith("C") for lab in labels)  # one tick per octave, C1...
    assert labels[0] == "C1"
    plt.close(ax.figure)
    mel = MelSpectrogram(sr, 1024, 256, n_mels=64)
    ax = plot_features(mel(x), sr, 256, mel.frequencies, "hz")
    assert float(ax.get_yticklabels()[-1].get_text()) > 5000  # top mel filter peak in Hz
    plt.close(ax.figure)
    gam = Gammatonegram(sr, 1024, 256)
    plt.close(plot_features(gam(x), sr, 256, gam.frequencies).figure)
    ax = plot_features(MFCC(sr, n_fft=1024, hop_length=256)(x), sr, 256, axis="bins", db=None)
    assert ax.get_ylabel() == "bin"
    plt.close(ax.figure)


def test_level_figure_draws_every_signal_on_one_scale():
    from ddsp.plot import plot_levels

    x = torch.randn(8000)
    fig = plot_levels({"input": x, "half": 0.5 * x}, 16000, 160, title="t")
    level = fig.axes[0]  # the loudness panel first, then each spectrogram with its colour bar
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["input", "half"]
    a, b = (line.get_ydata() for line in level.get_lines())
    assert abs(float((a - b)[5:-5].mean()) - 6.02) < 0.01  # half the amplitude: 6 dB lower
