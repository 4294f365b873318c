"""SoVITS (s2) for inference: semantic codes + phones + reference timbre -> 32 kHz waveform."""
from .config import SoVITSConfig
from .backend import SoVITS, build_sovits, load_sovits
from .synthesizer import SynthesizerTrn

__all__ = ["SoVITS", "SoVITSConfig", "SynthesizerTrn", "build_sovits", "load_sovits"]
