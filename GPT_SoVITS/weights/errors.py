"""The one error type of the weight readers: every message names the file and what is wrong with it."""
from __future__ import annotations


class WeightLoadError(Exception):
    """A weight file cannot be read or does not fit the model it is loaded into."""
