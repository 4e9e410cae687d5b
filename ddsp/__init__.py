"""ddsp-lpc: differentiable DSP for voice in PyTorch.

The reusable wings import nothing heavier than torch:
``ddsp.spectral`` (front-ends), ``ddsp.filters`` (FIR / all-pole), ``ddsp.losses`` and
``ddsp.synth``. ``ddsp.data`` and ``ddsp.models`` hold the training pipeline (Lightning).
"""

__version__ = "0.1.0"
