"""One clip -> its prepared arrays: the reference's preparation steps 1 to 3 (and 2-get-sv for Pro).

- step 1 (1-get-text.py): `text.clip_text`;
- step 2 (2-get-hubert-wav32k.py): the clip read at 32 kHz, checked, loudness-scaled
  (`audio.loudness_scale`); HuBERT reads the scaled 16 kHz audio as it is (no padding, unlike a voice's
  reference clip at synthesis);
- step 3 (3-get-semantic.py): the pretrained SoVITS generator's quantizer on those features
  (`AcousticModel.prompt_codes`, SoVITS's `extract_latent`);
- 2-get-sv.py (v2Pro, v2ProPlus): the speaker verifier on the stored 32 kHz audio.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from GPT_SoVITS import versions
from GPT_SoVITS.models.backends import AcousticModel, SpeakerModel, TextFeatureModel

from ..prepared import ClipRecord
from .audio import CLIP_RATE, check_clip, load_clip, loudness_scale
from .errors import ClipError, WeightsVersionError
from .listfile import ListEntry
from .text import clip_text


@dataclass
class PrepModels:
    """The models preparation runs: BERT, HuBERT, the pretrained SoVITS generator, the speaker verifier."""

    version: str  # the model version being fine-tuned (`GPT_SoVITS.versions`)
    bert: TextFeatureModel
    hubert: object  # models.hubert.HubertModel: `ssl_features` needs its unpadded features as numpy
    sovits: AcousticModel
    speaker: SpeakerModel | None  # Pro versions only

    @property
    def symbols(self) -> str:
        return versions.VERSIONS[self.version].symbols


def load_prep_models(version: str, sovits_path: str, hubert_path: str, bert_path: str,
                     sv_path: str | None) -> PrepModels:
    """Load what preparing clips for `version` needs; the SoVITS file must be of that version."""
    from GPT_SoVITS.models.bert import ChineseBert
    from GPT_SoVITS.models.hubert import load_hubert
    from GPT_SoVITS.models.sovits import load_sovits

    sovits = load_sovits(sovits_path)
    if sovits.version != version:
        raise WeightsVersionError(f"预训练 SoVITS 文件是 {sovits.version} 版本，而不是 {version} "
                         f"(the pretrained SoVITS file {sovits_path} is {sovits.version}, not {version})")
    speaker = None
    if versions.is_pro(version):
        from GPT_SoVITS.models.speaker import SpeakerVerifier

        speaker = SpeakerVerifier.load(sv_path)
    return PrepModels(version, ChineseBert(bert_path), load_hubert(hubert_path), sovits, speaker)


def ssl_features(hubert, wav16k: np.ndarray) -> np.ndarray:
    """HuBERT's last hidden state of the 16 kHz audio as 2-get-hubert-wav32k.py takes it: [768, T]."""
    from GPT_SoVITS.models.hubert import ssl_content

    return ssl_content(hubert, wav16k, pad_samples=0)[0]


def prepare_clip(models: PrepModels, entry: ListEntry) -> tuple[ClipRecord, dict[str, np.ndarray]]:
    """The record and arrays of one clip; `ClipError` naming it when it cannot be used."""
    audio = load_clip(entry.path, entry.name)
    check_clip(audio, entry.name)
    scaled = loudness_scale(audio, entry.name)
    text = clip_text(models.bert, entry.text, entry.language, models.symbols, entry.name)
    ssl = ssl_features(models.hubert, scaled.ssl_input16k)
    if np.isnan(ssl).any():  # 2-get-hubert-wav32k.py drops these too ("nan filtered")
        raise ClipError(entry.name, "HuBERT 特征含 NaN", "the HuBERT features contain NaN")
    codes = models.sovits.prompt_codes(ssl[None])
    arrays = {"phones": text.phones, "word2ph": text.word2ph, "bert": text.bert, "audio32k": scaled.audio32k,
              "ssl": ssl, "codes": codes}
    if models.speaker is not None:
        arrays["sv"] = models.speaker.embedding(scaled.audio32k, CLIP_RATE)
    record = ClipRecord(name=entry.name, speaker=entry.speaker, language=entry.language, text=entry.text,
                        norm_text=text.norm_text, seconds=round(scaled.audio32k.shape[0] / CLIP_RATE, 4),
                        source=str(Path(entry.path).resolve()))
    return record, arrays
