"""Synthesisers and their building blocks. Imports nothing but torch and ddsp's wings."""

from .classical import classical_lpc_vocoder
from .core import exp_sigmoid, fill_unvoiced_f0, upsample
from .dworld import DifferentiableWORLD
from .edit import VoiceControls, VoiceEdit, edit_controls, render
from .glottal import glottal_oscillator, glottal_wavetables, lf_waveform, rd_to_lf
from .golf import GlottalFlowLPC
from .harmonic import harmonic_oscillator, remove_above_nyquist
from .hpn import HarmonicPlusNoise
from .nhv import NeuralHomomorphic
from .noise import filtered_noise
from .pulf import PulseTrainLPC
from .reverb import LearnableReverb
from .sawsing import SawtoothFIR
from .streaming import StreamingGOLF

__all__ = [
    "VoiceEdit",
    "VoiceControls",
    "edit_controls",
    "render",
    "exp_sigmoid",
    "fill_unvoiced_f0",
    "upsample",
    "harmonic_oscillator",
    "remove_above_nyquist",
    "filtered_noise",
    "LearnableReverb",
    "HarmonicPlusNoise",
    "GlottalFlowLPC",
    "StreamingGOLF",
    "PulseTrainLPC",
    "SawtoothFIR",
    "NeuralHomomorphic",
    "DifferentiableWORLD",
    "classical_lpc_vocoder",
    "glottal_wavetables",
    "glottal_oscillator",
    "lf_waveform",
    "rd_to_lf",
]
