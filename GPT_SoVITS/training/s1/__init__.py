"""GPT (s1) fine-tuning: the reference's `s1_train.py` step for step (see trainer.py)."""
from .optim import ScaledAdam, ScaledAdamConfig
from .schedule import WarmupCosineLRSchedule
from .trainer import S1Trainer

__all__ = ["S1Trainer", "ScaledAdam", "ScaledAdamConfig", "WarmupCosineLRSchedule"]
