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
