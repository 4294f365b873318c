"""Weight files read without PyTorch: torch zip checkpoints, Hugging Face folders, MindSpore checkpoints.

- `read_torch_checkpoint(path)`: a `torch.save` file as plain objects with numpy arrays (safe unpickling).
- `load_into(cell, state, source=...)`: strict name-by-name copy into a MindSpore cell.
- `load_gpt_checkpoint`, `load_sovits_checkpoint`, `load_speaker_verifier_checkpoint`: model files
  (PyTorch or the original port's MindSpore `.ckpt`) with config and version.
- `write_torch_checkpoint(obj, path, header=b"PK")`: the reverse, a file `torch.load` reads (exports).
- `identify_weights(path)`: which kind of weights a file or folder holds.
- `load_hf_folder(folder)`: `config.json` + weights of a local Hugging Face folder.
- `WeightLoadError`: every failure, naming the file and the problem.
"""
from .checkpoints import (
    GptCheckpoint,
    SovitsCheckpoint,
    identify_weights,
    load_gpt_checkpoint,
    load_speaker_verifier_checkpoint,
    load_sovits_checkpoint,
)
from .errors import WeightLoadError
from .hf import HFFolder, load_hf_folder
from .hparams import HParams
from .load import load_into
from .torch_zip import read_torch_checkpoint
from .torch_zip_writer import write_torch_checkpoint
from .version import SovitsVersion

__all__ = [
    "GptCheckpoint",
    "HFFolder",
    "HParams",
    "SovitsCheckpoint",
    "SovitsVersion",
    "WeightLoadError",
    "identify_weights",
    "load_gpt_checkpoint",
    "load_hf_folder",
    "load_into",
    "load_sovits_checkpoint",
    "load_speaker_verifier_checkpoint",
    "read_torch_checkpoint",
    "write_torch_checkpoint",
]
