"""Speaker verification for v2Pro/v2ProPlus: ERes2NetV2 and the clip -> embedding front end."""
from .eres2net import STAGE_NAMES, ERes2NetV2, ERes2NetV2Dims
from .verifier import SAMPLE_RATE, SpeakerVerifier

__all__ = ["ERes2NetV2", "ERes2NetV2Dims", "SAMPLE_RATE", "STAGE_NAMES", "SpeakerVerifier"]
