"""Time-domain losses: auraloss's, re-exported, because ours would only be copies.

``ESRLoss``, ``DCLoss`` (Wright & Välimäki 2019), ``SNRLoss``, ``SISDRLoss``, ``SDSDRLoss``
(Le Roux et al. 2018) and ``LogCoshLoss`` from ``auraloss.time`` already reduce per
``(batch, channel)`` with ``reduction="none"``, take ``(batch, channels, time)`` and stay finite at
digital silence through their ``eps``. ``L1Loss`` is ``torch.nn.L1Loss``. Importing this module
imports auraloss (``ddsp.losses`` itself does not); Hydra configs: ``conf/loss/esr.yaml`` etc.
"""

from .._extras import require

require("train", "ddsp.losses.time (auraloss's time-domain losses)", "auraloss")

# ruff: noqa: E402

from auraloss.time import DCLoss, ESRLoss, LogCoshLoss, SDSDRLoss, SISDRLoss, SNRLoss
from torch.nn import L1Loss

__all__ = ["ESRLoss", "DCLoss", "SNRLoss", "SISDRLoss", "SDSDRLoss", "LogCoshLoss", "L1Loss"]
