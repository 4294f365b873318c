"""Chinese text normalisation: numbers, dates, times, units, phone numbers and symbols read out in words."""
from .normalizer import normalize, normalize_sentence

__all__ = ["normalize", "normalize_sentence"]
