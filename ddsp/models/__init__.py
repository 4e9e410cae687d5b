"""Models: encoders and the Lightning training module."""

from .encoder import ControlEncoder
from .vocoder import VocoderModule

__all__ = ["ControlEncoder", "VocoderModule"]
