"""The GPT/SoVITS pairs of voices with their own weights (fine-tuned voices), kept loaded for the engine.

A voice model may name its own GPT and/or SoVITS file (`SynthesisOptions.weights`); every other voice
uses the engine's default pair. Each other pair is a `Synthesizer` of its own that shares the default's
HuBERT/BERT (and speaker) models and its models' lock, so a pair costs only its GPT and SoVITS. At most
`capacity` pairs stay loaded: loaded on first use, the least recently used one closed when another
comes in. A synthesis holding an evicted pair finishes on it (it keeps its reference).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, NamedTuple

Pair = tuple[str, str]  # (GPT file, SoVITS file), resolved paths


class LoadedPair(NamedTuple):
    synth: object  # GPT_SoVITS.pipeline.synthesizer.Synthesizer (or a stand-in with its methods)
    uses: int


class PairCache:
    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self._pairs: OrderedDict[Pair, LoadedPair] = OrderedDict()
        self._lock = threading.Lock()  # guards _pairs
        self._loading = threading.Lock()  # one pair loads at a time: a second request for it waits, then finds it

    def get(self, pair: Pair, load: Callable[[Pair], object]):
        """The synthesizer of `pair`, loading it now (in the caller's worker thread) if it is not loaded."""
        found = self._touch(pair)
        if found is not None:
            return found
        with self._loading:
            found = self._touch(pair)
            if found is not None:
                return found
            synth = load(pair)  # raises: nothing is cached, the next request tries again
            with self._lock:
                self._pairs[pair] = LoadedPair(synth, 1)
                evicted = [self._pairs.popitem(last=False)[1] for _ in range(len(self._pairs) - self.capacity)]
        for old in evicted:
            old.synth.close()
        return synth

    def _touch(self, pair: Pair):
        with self._lock:
            loaded = self._pairs.get(pair)
            if loaded is None:
                return None
            self._pairs[pair] = loaded._replace(uses=loaded.uses + 1)
            self._pairs.move_to_end(pair)
            return loaded.synth

    def clear(self) -> None:
        """Close every pair (the default pair was swapped: they share its old HuBERT/BERT)."""
        with self._lock:
            pairs, self._pairs = list(self._pairs.values()), OrderedDict()
        for loaded in pairs:
            loaded.synth.close()

    def status(self, display: Callable[[str], str]) -> dict:
        """/healthz's part: the capacity and the loaded pairs, least recently used first."""
        with self._lock:
            items = list(self._pairs.items())
        return {"capacity": self.capacity,
                "loaded": [{"gpt": display(gpt), "sovits": display(sovits), "uses": loaded.uses,
                            "versions": dict(loaded.synth.versions)} for (gpt, sovits), loaded in items]}
