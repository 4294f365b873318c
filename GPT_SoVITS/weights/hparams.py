"""A plain attribute container standing in for the reference's `utils.HParams` config class.

SoVITS files pickle their config as a `utils.HParams` instance (nested for `train`, `data`, `model`).
The safe unpickler maps that class here, so `hps.model.inter_channels` and `hps["data"]["hop_length"]`
both work, and no code from the checkpoint is ever imported.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator


class HParams:
    """Nested configuration with attribute and item access; dict values become `HParams` too."""

    def __init__(self, values: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        for key, value in {**(values or {}), **kwargs}.items():
            self[key] = value

    # pickle's BUILD step hands the attribute dict here (no __init__ is run on unpickling).
    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for key, value in state.items():
            self[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Mapping) and not isinstance(value, HParams):
            value = HParams(value)
        self.__dict__[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HParams) and self.to_dict() == other.to_dict()

    def keys(self):
        return self.__dict__.keys()

    def items(self):
        return self.__dict__.items()

    def values(self):
        return self.__dict__.values()

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (JSON-ready when the values are)."""
        return {k: v.to_dict() if isinstance(v, HParams) else v for k, v in self.__dict__.items()}

    def __repr__(self) -> str:
        return f"HParams({self.to_dict()!r})"


Mapping.register(HParams)  # read-only dict protocol, so code taking a Mapping accepts configs too
