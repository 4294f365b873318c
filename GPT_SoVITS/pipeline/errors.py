"""Errors a synthesis can end with. Their messages are meant for the user, in plain words."""
from __future__ import annotations

from typing import Callable, Sequence

# A weight key (`versions.WEIGHT_FILES`) -> how the caller's user sets that path ("--gpt-path or ...").
HowToSet = Callable[[str], str]


class SynthesisError(Exception):
    """Synthesis failed; the message says why."""


class WeightsMissingError(SynthesisError):
    """Model files are absent: the message names each one and where it was looked for.

    `missing` holds (weight key, path) pairs. The library does not know how its caller lets users set a
    path: `how_to_set` adds that to each line (the service names its flag and variable), and `show` turns
    a path into what the message may show (the service hides its absolute paths)."""

    def __init__(self, missing: Sequence[tuple[str, str | None]], how_to_set: HowToSet | None = None,
                 show: Callable[[str], str] = str):
        self.missing = tuple(missing)
        super().__init__(missing_weights_message(self.missing, how_to_set, show))

    def worded_for(self, how_to_set: HowToSet | None, show: Callable[[str], str] = str) -> "WeightsMissingError":
        """The same error, its lines saying how the caller sets each path."""
        return WeightsMissingError(self.missing, how_to_set, show)


def missing_weights_message(missing: Sequence[tuple[str, str | None]], how_to_set: HowToSet | None = None,
                            show: Callable[[str], str] = str) -> str:
    from GPT_SoVITS.versions import WEIGHT_FILES, WHERE_TO_GET

    lines = []
    for key, path in missing:
        hint = how_to_set(key) if how_to_set is not None else ""
        where = show(path) if path else "(not set)"
        lines.append(f"  {WEIGHT_FILES[key].what}: {where}" + (f" (set with {hint})" if hint else ""))
    return "模型权重缺失 (model weights missing):\n" + "\n".join(lines) + "\n" + WHERE_TO_GET


class InputError(SynthesisError):
    """The request cannot be synthesised as given (empty text after cleaning, unknown language, ...)."""


class ReferenceClipError(InputError):
    """The reference clip is missing, does not decode, or is outside 3-10 s."""


class BusyError(SynthesisError):
    """The service is at capacity for this request now (the batch's memory); the same request may succeed
    later."""


class CancelledError(SynthesisError):
    """The caller asked to stop; raised at a segment boundary."""
