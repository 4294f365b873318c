"""The neural guesser for words no dictionary knows: g2p_en's GRU encoder-decoder, in numpy.

g2p_en (Kyubyong Park, PyPI) ships its trained weights as ``checkpoint20.npz``. We read that file from the
installed package folder without importing ``g2p_en`` (its import tries NLTK downloads) and run the
network ourselves: letters -> embedding -> GRU encoder; its last state starts a GRU decoder that emits
one phone per step, greedily, until the end token or 20 steps. float32 throughout, like the original,
so that the argmax picks the same phone.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

GRAPHEMES = ["<pad>", "<unk>", "</s>"] + list("abcdefghijklmnopqrstuvwxyz")
# fmt: off
PHONEMES = ["<pad>", "<unk>", "<s>", "</s>",
            "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2", "AO0", "AO1", "AO2",
            "AW0", "AW1", "AW2", "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0", "EH1", "EH2",
            "ER0", "ER1", "ER2", "EY0", "EY1", "EY2", "F", "G", "HH", "IH0", "IH1", "IH2",
            "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N", "NG", "OW0", "OW1", "OW2", "OY0", "OY1", "OY2",
            "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2", "UW", "UW0", "UW1", "UW2",
            "V", "W", "Y", "Z", "ZH"]
# fmt: on
_START, _END = PHONEMES.index("<s>"), PHONEMES.index("</s>")
_MAX_PHONES = 20


def package_folder(name: str) -> Path | None:
    """Folder of an installed package, found without importing (executing) it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@dataclass
class GRU:
    """One GRU layer with PyTorch's gate layout: rows [reset; update; new] of w_ih / w_hh."""

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray

    def step(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        gates_x = x @ self.w_ih.T + self.b_ih
        gates_h = h @ self.w_hh.T + self.b_hh
        size = h.shape[-1]
        reset_update = 1 / (1 + np.exp(-(gates_x[:, : 2 * size] + gates_h[:, : 2 * size])))
        reset, update = reset_update[:, :size], reset_update[:, size:]
        new = np.tanh(gates_x[:, 2 * size :] + reset * gates_h[:, 2 * size :])
        return (1 - update) * new + update * h


@dataclass
class NeuralG2p:
    letter_embedding: np.ndarray  # (graphemes, dim)
    phone_embedding: np.ndarray  # (phonemes, dim)
    encoder: GRU
    decoder: GRU
    out_w: np.ndarray  # (phonemes, hidden)
    out_b: np.ndarray

    @classmethod
    def from_npz(cls, path: Path) -> "NeuralG2p":
        v = np.load(path)
        gru = lambda prefix: GRU(*(v[f"{prefix}_{k}"] for k in ("w_ih", "w_hh", "b_ih", "b_hh")))  # noqa: E731
        return cls(v["enc_emb"], v["dec_emb"], gru("enc"), gru("dec"), v["fc_w"], v["fc_b"])

    def __call__(self, word: str) -> list[str]:
        """Phones for a lower-case word; characters outside a-z count as <unk>."""
        letters = [GRAPHEMES.index(c) if c in GRAPHEMES[3:] else 1 for c in word] + [GRAPHEMES.index("</s>")]
        h = np.zeros((1, self.encoder.w_hh.shape[1]), np.float32)
        for index in letters:
            h = self.encoder.step(self.letter_embedding[[index]], h)
        phones: list[str] = []
        previous = _START
        for _ in range(_MAX_PHONES):
            h = self.decoder.step(self.phone_embedding[[previous]], h)
            logits = h @ self.out_w.T + self.out_b
            previous = int(logits.argmax())
            if previous == _END:
                break
            phones.append(PHONEMES[previous])
        return phones


@lru_cache(maxsize=1)
def default_guesser() -> NeuralG2p | None:
    folder = package_folder("g2p_en")
    if folder is None or not (folder / "checkpoint20.npz").is_file():
        return None
    return NeuralG2p.from_npz(folder / "checkpoint20.npz")
