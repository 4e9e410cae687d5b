"""Models: encoders and the Lightning training module."""

from .checkpoint import load_vocoder
from .encoder import ControlEncoder
from .vocoder import VocoderModule

__all__ = ["ControlEncoder", "VocoderModule", "load_vocoder"]
