"""SoVITS (s2) fine-tuning: the reference's s2_train.py step for step (`S2Trainer`)."""
from .trainer import S2Trainer

__all__ = ["S2Trainer"]
