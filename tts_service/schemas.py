"""What a synthesis request may say (shared by /synthesize and task submission), and how it becomes the
pipeline's own values, once, at the edge: `SynthesisOptions` with its `SamplingOptions` and its
`ChunkPlan` (or none). The pipeline reads nothing of the wire format.

Each knob is declared once: its bounds in the annotated types below (every body that carries the knob
uses them: this one, OpenAI's), its default in the pipeline (`SynthesisOptions`, `SamplingOptions`,
`ChunkPlan`). `streaming_mode` is read in one place, `ChunkingFields.delivery`.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from GPT_SoVITS.pipeline import ChunkPlan, SamplingOptions, SynthesisOptions, VoiceWeights

from . import vocab
from .envelope import BAD_PARAM, RESOURCE, ApiError
from .limits import check_fields
from .settings import Settings
from .storage.ids import check_id

if TYPE_CHECKING:
    from .storage.voice_models import VoiceModelStore

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SynthesisOptions)}
SAMPLING = SamplingOptions()  # the one default of each sampling knob
CHUNKS = ChunkPlan(at_pauses=False)  # the reference's chunk length and overlap

MISSING_INPUT = "缺少参数: ref_wav_path 或 text"
BAD_LANGUAGE = "语言不支持"
BAD_CUT = "切分方式不支持"

# Bounds of the knobs more than one body carries.
TopK = Annotated[int, Field(ge=1, le=100,
                            description="GPT 采样：只在概率最高的 k 个 token 中采样（1 = 贪心，可复现）")]
TopP = Annotated[float, Field(gt=0, le=1, description="GPT 采样：累计概率阈值 (nucleus)")]
Temperature = Annotated[float, Field(gt=0, le=2, description="GPT 采样温度，越低越稳定")]
NoiseScale = Annotated[float, Field(ge=0, le=1, description="SoVITS 先验噪声比例（0 = 确定性输出）")]
Seed = Annotated[int | None, Field(ge=0, le=2**32 - 1,
                                   description="fixed seed for repeatable audio; empty: random")]


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
    top_k: TopK = SAMPLING.top_k
    top_p: TopP = SAMPLING.top_p
    temperature: Temperature = SAMPLING.temperature
    repetition_penalty: float = Field(SAMPLING.repetition_penalty, ge=0, le=2,
                                      description="重复惩罚（参考实现默认 1.35，作用于包括参考音频在内的所有 token）")
    speed: float = Field(_DEFAULTS["speed"], ge=0.5, le=2, description="语速倍数（SoVITS 编码器输出插值）")
    noise_scale: NoiseScale = _DEFAULTS["noise_scale"]
    seed: Seed = _DEFAULTS["seed"]
    ref_free: bool = Field(_DEFAULTS["ref_free"], description="reference-free mode (no prompt text); "
                                                              "JSON true/false or \"true\"/\"false\"")

    def sampling(self) -> SamplingOptions:
        return SamplingOptions(top_k=self.top_k, top_p=self.top_p, temperature=self.temperature,
                               repetition_penalty=self.repetition_penalty)

    def to_options(self, settings: Settings, voice_models: "VoiceModelStore") -> SynthesisOptions:
        """This request with its voice model filled in, or ApiError (3 bad input, 2 unknown model)."""
        check_fields(self, settings.max_prompt_chars)  # first: nothing below looks at an over-long value
        voice = resolve_voice(settings, voice_models, self.model_id, self.ref_wav_path, self.prompt_text,
                              self.prompt_language)
        text = (self.text or "").strip()
        if voice is None or not text:
            raise ApiError(BAD_PARAM, MISSING_INPUT)
        if len(text) > settings.max_text_chars:
            raise ApiError(BAD_PARAM, f"文本过长：{len(text)} 字，上限 {settings.max_text_chars} 字")
        check_languages(voice.prompt_language, self.text_language)
        if vocab.cut_code(self.how_to_cut) is None:
            raise ApiError(BAD_PARAM, BAD_CUT)
        return voice.speaking(text, text_language=self.text_language, how_to_cut=self.how_to_cut,
                              sampling=self.sampling(), speed=self.speed, noise_scale=self.noise_scale,
                              seed=self.seed, ref_free=self.ref_free)


class Delivery(NamedTuple):
    """How the audio of a request is sent: as it is made or whole, and within a segment in chunks or not."""

    streamed: bool
    chunks: ChunkPlan | None


class ChunkingFields(BaseModel):
    """How a streamed answer is cut (the reference api_v2's fields): whole segments, or chunks of a few
    semantic codes voiced while the GPT decodes (first audio sooner; the joins are approximate)."""

    streaming_mode: int = Field(0, ge=0, le=3, description=(
        "0 or 1 (false/true): audio segment by segment, exact; 2: chunks cut at pauses; 3: chunks of "
        "min_chunk_length codes. 1-3 imply a streamed answer"))
    min_chunk_length: int = Field(CHUNKS.min_codes, ge=2, le=500,
                                  description="semantic codes (40 ms each) per chunk, modes 2 and 3")
    overlap_length: int = Field(CHUNKS.overlap_codes, ge=1, le=50,
                                description="codes each chunk re-voices to join the previous one; below "
                                            "min_chunk_length")

    def delivery(self) -> Delivery:
        """streaming_mode as the pipeline takes it; ApiError when the overlap is not shorter than a chunk."""
        if self.streaming_mode < 2:
            return Delivery(streamed=self.streaming_mode == 1, chunks=None)
        try:
            plan = ChunkPlan(at_pauses=self.streaming_mode == 2, min_codes=self.min_chunk_length,
                             overlap_codes=self.overlap_length)
        except ValueError:
            raise ApiError(BAD_PARAM, f"overlap_length ({self.overlap_length}) 必须小于 min_chunk_length "
                                      f"({self.min_chunk_length})", 400,
                           {"param": "overlap_length", "code": "invalid_value"}) from None
        return Delivery(streamed=True, chunks=plan)


class DirectSynthesisRequest(SynthesisRequest, ChunkingFields):
    """/synthesize: the synthesis fields plus how the audio comes back (tasks store WAV and convert on
    download, so these two are not task fields)."""

    response_format: str = Field("wav", validation_alias=AliasChoices("response_format", "format"),
                                 description="wav, mp3, opus, aac, flac or pcm (16-bit little-endian mono "
                                             "at the model's rate, X-Sample-Rate); `format` is accepted too")
    stream: bool = Field(False, description="true: send the audio segment by segment as it is synthesised "
                                            "(chunked; a WAV header with open length); not saved under output/")

    def decode(self, settings: Settings, voice_models: "VoiceModelStore") -> tuple[SynthesisOptions, bool]:
        """The options, chunk plan included, and whether the answer is streamed."""
        options = self.to_options(settings, voice_models)
        delivery = self.delivery()  # after the other checks, whose errors come first
        return dataclasses.replace(options, chunks=delivery.chunks), self.stream or delivery.streamed


@dataclasses.dataclass(frozen=True)
class Voice:
    """Who speaks: the reference clip and its transcript, from the request or its voice model."""

    ref_wav_path: str
    prompt_text: str
    prompt_language: str
    weights: VoiceWeights | None = None  # the voice model's own GPT/SoVITS files; None: the default pair

    def speaking(self, text: str, **values) -> SynthesisOptions:
        """A synthesis of `text` in this voice; `values` are the request's other, decoded, options."""
        return SynthesisOptions(ref_wav_path=self.ref_wav_path, prompt_text=self.prompt_text,
                                prompt_language=self.prompt_language, text=text, weights=self.weights, **values)


def resolve_voice(settings: Settings, voice_models: "VoiceModelStore", model_id: str | None,
                  ref_wav_path: str | None = None, prompt_text: str | None = None,
                  prompt_language: str | None = None) -> Voice | None:
    """The voice a request names: what it leaves out comes from the voice model (clip, prompt text AND
    prompt language). None when no clip is named at all; ApiError for a bad clip path or model."""
    ref_wav_path = check_ref_path(ref_wav_path, settings) if ref_wav_path else None
    weights = None
    if model_id not in (None, ""):
        record = voice_models.get(check_id(model_id, "model_id"))
        if record is None:
            raise ApiError(RESOURCE, "音模不存在", 404)
        ref_wav_path = ref_wav_path or str(voice_models.clip_path(record))
        prompt_text = prompt_text or record.get("prompt_text", "")
        prompt_language = prompt_language or record.get("prompt_language")
        weights = voice_models.weights(record)
    if not ref_wav_path:
        return None
    return Voice(ref_wav_path, (prompt_text or "").strip(), prompt_language or _DEFAULTS["prompt_language"], weights)


def check_languages(*names: str) -> None:
    if any(vocab.language_code(name) is None for name in names):
        raise ApiError(BAD_PARAM, BAD_LANGUAGE)


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
