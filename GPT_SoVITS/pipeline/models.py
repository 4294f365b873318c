"""The set of models one synthesis needs, loaded together from `ModelPaths`.

The SoVITS file decides the version (`GPT_SoVITS.versions`): its symbol set picks the text frontend,
and a Pro version also needs the speaker-verification network, which other versions never load.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from GPT_SoVITS.models.backends import (AcousticModel, SemanticModel, SpeakerModel, SSLModel, TextFeatureModel,
                                        WarmsUp)
from GPT_SoVITS.versions import BASE_WEIGHTS, VERSIONS, ModelVersion

from .errors import WeightsMissingError
from .options import ModelPaths


def missing_weights_error(paths: ModelPaths, needed: Sequence[str] = BASE_WEIGHTS) -> WeightsMissingError | None:
    """The error naming each of the `needed` weight files (keys of `versions.WEIGHT_FILES`) whose file or
    folder does not exist; None when all are there. A caller may reword it (`worded_for`)."""
    missing = [key for key in needed if not (getattr(paths, key) and Path(getattr(paths, key)).exists())]
    return WeightsMissingError([(key, getattr(paths, key)) for key in missing]) if missing else None


def require_weights(paths: ModelPaths, needed: Sequence[str] = BASE_WEIGHTS) -> None:
    error = missing_weights_error(paths, needed)
    if error is not None:
        raise error


@dataclass
class Models:
    """The models of one synthesis, by role (`GPT_SoVITS.models.backends`); the acoustic model's version
    is the set's."""

    gpt: SemanticModel
    sovits: AcousticModel
    hubert: SSLModel
    bert: TextFeatureModel
    speaker: SpeakerModel | None  # the versions that need it only (Pro)
    paths: ModelPaths

    @property
    def symbol_version(self) -> str:
        return self.sovits.symbols_version

    @property
    def sample_rate(self) -> int:
        return self.sovits.sampling_rate

    @property
    def version(self) -> ModelVersion:
        return VERSIONS[self.sovits.version]

    @property
    def is_pro(self) -> bool:
        return self.version.pro

    def versions(self) -> dict[str, str]:
        return {"sovits": self.version.name, "symbols": self.symbol_version}

    def all(self) -> list[WarmsUp]:
        """Every model loaded, in the order their warm-up stages run."""
        return [model for model in (self.gpt, self.bert, self.sovits, self.hubert, self.speaker) if model is not None]


def load_models(paths: ModelPaths, shared: Models | None = None) -> Models:
    """Load every model named by `paths`: this back end serves every supported version (a new model
    generation's back end is chosen here, by the SoVITS file's version). A missing file is a
    `WeightsMissingError` listing all of them. The HuBERT, BERT and speaker models of `shared` (another
    loaded set) are used again where their files are the same: a second GPT/SoVITS pair costs only itself."""
    from GPT_SoVITS.models.bert import ChineseBert
    from GPT_SoVITS.models.gpt import load_gpt
    from GPT_SoVITS.models.hubert import load_hubert
    from GPT_SoVITS.models.sovits import load_sovits

    require_weights(paths)
    sovits = load_sovits(paths.sovits)
    version = VERSIONS[sovits.version]
    require_weights(paths, version.weights)
    speaker = None
    if version.pro:
        from GPT_SoVITS.models.speaker import SpeakerVerifier

        speaker = _reused(shared, "speaker", "speaker_verifier", paths) or SpeakerVerifier.load(paths.speaker_verifier)
    return Models(
        gpt=load_gpt(paths.gpt),
        sovits=sovits,
        hubert=_reused(shared, "hubert", "hubert", paths) or load_hubert(paths.hubert),
        bert=_reused(shared, "bert", "bert", paths) or ChineseBert(paths.bert),
        speaker=speaker,
        paths=paths,
    )


def _reused(shared: Models | None, role: str, path_key: str, paths: ModelPaths):
    """`shared`'s model in `role` when it was loaded from the same file, else None."""
    if shared is None or getattr(shared.paths, path_key) != getattr(paths, path_key):
        return None
    return getattr(shared, role)
