"""Errors a synthesis can end with. Their messages are meant for the user, in plain words."""
from __future__ import annotations


class SynthesisError(Exception):
    """Synthesis failed; the message says why."""


class WeightsMissingError(SynthesisError):
    """Model files are absent: the message names each missing file and the flag/variable that sets it."""


class InputError(SynthesisError):
    """The request cannot be synthesised as given (empty text after cleaning, unknown language, ...)."""


class ReferenceClipError(InputError):
    """The reference clip is missing, does not decode, or is outside 3-10 s."""


class CancelledError(SynthesisError):
    """The caller asked to stop; raised at a segment boundary."""
