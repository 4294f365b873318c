"""Dataset preparation as the reference's web UI does it (prepare_datasets/1-get-text.py,
2-get-hubert-wav32k.py, 3-get-semantic.py, 2-get-sv.py; tools/slicer2.py for long recordings), into
the prepared folder of `GPT_SoVITS.training.prepared`."""
from .dataset import PrepareReport, prepare_dataset
from .errors import ClipError, WeightsVersionError
from .features import PrepModels, load_prep_models, prepare_clip
from .listfile import ListEntry, read_list

__all__ = ["ClipError", "ListEntry", "PrepModels", "PrepareReport", "load_prep_models", "prepare_clip",
           "prepare_dataset", "read_list", "WeightsVersionError"]
