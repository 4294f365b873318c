"""The text-to-semantic GPT of GPT-SoVITS (the reference's `AR/` package), in MindSpore."""
from ..backends import SamplingOptions
from .backend import GPT, build_gpt, load_gpt
from .config import GPTConfig
from .decode import SemanticResult, decode_tokens, infer_panel
from .model import Text2SemanticDecoder

__all__ = ["GPT", "GPTConfig", "SamplingOptions", "SemanticResult", "Text2SemanticDecoder", "build_gpt",
           "decode_tokens", "infer_panel", "load_gpt"]
