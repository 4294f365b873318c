"""What a synthesis request may say (shared by /synthesize and task submission), and how a voice
model fills in what it leaves out. Defaults come from GPT_SoVITS.pipeline.SynthesisOptions.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from GPT_SoVITS.pipeline import SynthesisOptions
from GPT_SoVITS.pipeline.options import CHUNKED_MODES

from . import vocab
from .envelope import BAD_PARAM, RESOURCE, ApiError
from .limits import check_fields
from .settings import Settings
from .storage.ids import check_id

if TYPE_CHECKING:
    from .storage.voice_models import VoiceModelStore

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SynthesisOptions)}

MISSING_INPUT = "缺少参数: ref_wav_path 或 text"
BAD_LANGUAGE = "语言不支持"
BAD_CUT = "切分方式不支持"


class SynthesisRequest(BaseModel):
    """The fields of one synthesis. Unknown fields are ignored (old clients send user_id/task_id)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "model_id": "xiaoyun", "text": "你好，欢迎使用语音合成服务。", "text_language": "all_zh",
        "how_to_cut": "cut1", "top_k": 20, "top_p": 0.6, "temperature": 0.6}]})

    model_id: str | None = Field(None, description="voice model whose clip, prompt text and prompt language "
                                                   "fill in the fields left out")
    ref_wav_path: str | None = Field(None, description="reference clip on the server: a path inside the data "
                                                       "dir's audio/ (or a folder of --ref-audio-dirs)")
    text: str | None = Field(None, description="target text (required); at most --max-text-chars characters")
    text_language: str = Field(_DEFAULTS["text_language"], description="language key of the target text")
    prompt_text: str | None = Field(None, description="transcript of the reference clip; empty: the model's")
    prompt_language: str | None = Field(None, description="language of prompt_text; empty: the model's, "
                                                          f"else {_DEFAULTS['prompt_language']}")
    how_to_cut: str = Field(_DEFAULTS["how_to_cut"], description="cut0..cut5 or the Chinese label")
    top_k: int = Field(_DEFAULTS["top_k"], ge=1, le=100, description="GPT 采样：只在概率最高的 k 个 token 中采样（1 = 贪心，可复现）")
    top_p: float = Field(_DEFAULTS["top_p"], gt=0, le=1, description="GPT 采样：累计概率阈值 (nucleus)")
    temperature: float = Field(_DEFAULTS["temperature"], gt=0, le=2, description="GPT 采样温度，越低越稳定")
    repetition_penalty: float = Field(_DEFAULTS["repetition_penalty"], ge=0, le=2, description="重复惩罚（参考实现默认 1.35，作用于包括参考音频在内的所有 token）")
    speed: float = Field(_DEFAULTS["speed"], ge=0.5, le=2, description="语速倍数（SoVITS 编码器输出插值）")
    noise_scale: float = Field(_DEFAULTS["noise_scale"], ge=0, le=1, description="SoVITS 先验噪声比例（0 = 确定性输出）")
    seed: int | None = Field(_DEFAULTS["seed"], ge=0, le=2**32 - 1, description="fixed seed; empty: random")
    ref_free: bool = Field(_DEFAULTS["ref_free"], description="reference-free mode (no prompt text); "
                                                              "JSON true/false or \"true\"/\"false\"")


class ChunkingFields(BaseModel):
    """How a streamed answer is cut (the reference api_v2's fields): whole segments, or chunks of a few
    semantic codes voiced while the GPT decodes (first audio sooner; the joins are approximate)."""

    streaming_mode: int = Field(_DEFAULTS["streaming_mode"], ge=0, le=3, description=(
        "0 or 1 (false/true): audio segment by segment, exact; 2: chunks cut at pauses; 3: chunks of "
        "min_chunk_length codes. 1-3 imply a streamed answer"))
    min_chunk_length: int = Field(_DEFAULTS["min_chunk_length"], ge=2, le=500,
                                  description="semantic codes (40 ms each) per chunk, modes 2 and 3")
    overlap_length: int = Field(_DEFAULTS["overlap_length"], ge=1, le=50,
                                description="codes each chunk re-voices to join the previous one; below "
                                            "min_chunk_length")

    def chunking(self, options: SynthesisOptions) -> SynthesisOptions:
        """`options` with these fields, or ApiError when the overlap is not shorter than a chunk."""
        if self.streaming_mode in CHUNKED_MODES and self.overlap_length >= self.min_chunk_length:
            raise ApiError(BAD_PARAM, f"overlap_length ({self.overlap_length}) 必须小于 min_chunk_length "
                                      f"({self.min_chunk_length})", 400,
                           {"param": "overlap_length", "code": "invalid_value"})
        return dataclasses.replace(options, streaming_mode=self.streaming_mode,
                                   min_chunk_length=self.min_chunk_length, overlap_length=self.overlap_length)


class DirectSynthesisRequest(SynthesisRequest, ChunkingFields):
    """/synthesize: the synthesis fields plus how the audio comes back (tasks store WAV and convert on
    download, so these two are not task fields)."""

    response_format: str = Field("wav", validation_alias=AliasChoices("response_format", "format"),
                                 description="wav, mp3, opus, aac, flac or pcm (16-bit little-endian mono "
                                             "at the model's rate, X-Sample-Rate); `format` is accepted too")
    stream: bool = Field(False, description="true: send the audio segment by segment as it is synthesised "
                                            "(chunked; a WAV header with open length); not saved under output/")

    @property
    def streamed(self) -> bool:
        return self.stream or self.streaming_mode > 0


def _allowed_roots(settings: Settings) -> list[Path]:
    return [settings.audio_dir.resolve(), *(Path(p).resolve() for p in settings.ref_audio_dirs)]


def is_file(path: Path) -> bool:
    """Path.is_file, but a name the OS refuses (a component over 255 bytes) is simply not a file."""
    try:
        return path.is_file()
    except OSError:
        return False


def check_ref_path(raw: str, settings: Settings) -> str:
    """A client-given clip path, only inside audio/ or --ref-audio-dirs (the seed read any file)."""
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = Path(settings.data_dir) / candidate
    real = Path(os.path.realpath(candidate))
    if not any(real == root or root in real.parents for root in _allowed_roots(settings)):
        raise ApiError(BAD_PARAM, "ref_wav_path 不在允许的目录内（数据目录的 audio/ 或 --ref-audio-dirs）")
    if not is_file(real):
        raise ApiError(BAD_PARAM, "ref_wav_path 指向的参考音频不存在")
    return str(real)


def resolve_options(req: SynthesisRequest, settings: Settings, voice_models: "VoiceModelStore") -> SynthesisOptions:
    """The request plus its voice model -> SynthesisOptions, or ApiError (3 bad input, 2 unknown model)."""
    check_fields(req, settings.max_prompt_chars)  # first: nothing below looks at an over-long value
    prompt_text, prompt_language = req.prompt_text, req.prompt_language
    ref_wav_path = check_ref_path(req.ref_wav_path, settings) if req.ref_wav_path else None
    if req.model_id not in (None, ""):
        record = voice_models.get(check_id(req.model_id, "model_id"))
        if record is None:
            raise ApiError(RESOURCE, "音模不存在", 404)
        # What the request leaves out comes from the model: clip, prompt text AND prompt language.
        ref_wav_path = ref_wav_path or str(voice_models.clip_path(record))
        prompt_text = prompt_text or record.get("prompt_text", "")
        prompt_language = prompt_language or record.get("prompt_language")
    text = (req.text or "").strip()
    if not ref_wav_path or not text:
        raise ApiError(BAD_PARAM, MISSING_INPUT)
    if len(text) > settings.max_text_chars:
        raise ApiError(BAD_PARAM, f"文本过长：{len(text)} 字，上限 {settings.max_text_chars} 字")
    prompt_language = prompt_language or _DEFAULTS["prompt_language"]
    if vocab.language_code(prompt_language) is None or vocab.language_code(req.text_language) is None:
        raise ApiError(BAD_PARAM, BAD_LANGUAGE)
    if vocab.cut_code(req.how_to_cut) is None:
        raise ApiError(BAD_PARAM, BAD_CUT)
    return SynthesisOptions(
        ref_wav_path=ref_wav_path, text=text, prompt_text=(prompt_text or "").strip(),
        prompt_language=prompt_language, text_language=req.text_language, how_to_cut=req.how_to_cut,
        top_k=req.top_k, top_p=req.top_p, temperature=req.temperature,
        repetition_penalty=req.repetition_penalty, speed=req.speed, noise_scale=req.noise_scale,
        seed=req.seed, ref_free=req.ref_free,
    )
