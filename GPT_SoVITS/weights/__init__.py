"""Weight files read without PyTorch: torch zip checkpoints, Hugging Face folders, MindSpore checkpoints.

Public API:
- `read_torch_checkpoint(path)`: a `torch.save` file as plain objects with numpy arrays (safe unpickling).
- `load_into(cell, state, source=...)`: strict name-by-name copy into a MindSpore cell.
- `WeightLoadError`: every failure, naming the file and the problem.
- `HParams`: the attribute container SoVITS configs are read into.
"""
from .errors import WeightLoadError
from .hparams import HParams
from .load import load_into
from .torch_zip import read_torch_checkpoint

__all__ = ["HParams", "WeightLoadError", "load_into", "read_torch_checkpoint"]
