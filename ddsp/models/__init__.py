"""Models: encoders and the Lightning training module."""

from .._extras import require

require("train", "ddsp.models", "lightning", "hydra", "omegaconf")

# ruff: noqa: E402

from .checkpoint import load_vocoder
from .encoder import ControlEncoder
from .vocoder import VocoderModule

__all__ = ["ControlEncoder", "VocoderModule", "load_vocoder"]
