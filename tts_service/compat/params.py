"""The two request shapes of the reference (api_v2's /tts and api.py's /), read the way clients send them.

Clients build these requests from their own settings, so values arrive as query strings or JSON of any
type: booleans as true/false/True/1, numbers as strings ("15", "1.0"), everything lower-cased
(AstrBot), a list as repeated query parameters, an empty string for "not set". Every field is read
leniently here, and a value that still makes no sense is a 400 naming the field. The defaults are the
reference's (api_v2's TTS_Request, api.py's tts_endpoint), not the service's.
"""
from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Request
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from GPT_SoVITS.pipeline import SynthesisOptions

from .errors import bad

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
STREAMING_MODES = (0, 1, 2, 3)  # api_v2's; what each means is read in schemas.ChunkingFields.delivery
STREAMING_MODE_RULE = "the value of streaming_mode must be 0, 1, 2, 3(int) or true/false(bool)"


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("must be true or false")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _number(value)  # "15", "15.0" and 15.0 are all 15
    if not number.is_integer():
        raise ValueError("must be an integer")
    return int(number)


def _streaming_mode(value: Any) -> int:
    """api_v2's `Union[bool, int]`: false/true (any case) are 0/1, else 0-3."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return int(value.strip().lower() == "true")
    try:
        mode = int(value) if isinstance(value, bool) else _int(value)
    except ValueError:
        raise ValueError(STREAMING_MODE_RULE) from None
    if mode not in STREAMING_MODES:
        raise ValueError(STREAMING_MODE_RULE)
    return mode


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _paths(value: Any) -> Any:
    """One path or a list of them; blank entries are "none" (AstrBot sends "")."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [v for v in value if not (isinstance(v, str) and not v.strip())]
    return value


Bool = Annotated[bool, BeforeValidator(_bool)]
Int = Annotated[int, BeforeValidator(_int)]
Float = Annotated[float, BeforeValidator(_number)]
Lower = Annotated[str, BeforeValidator(_lower)]
Paths = Annotated[list[str], BeforeValidator(_paths)]
StreamingMode = Annotated[int, BeforeValidator(_streaming_mode)]

_NOISE_SCALE = SynthesisOptions.__dataclass_fields__["noise_scale"].default
VOICE = ("a voice model id (GET /speakers lists them), or a clip in the data dir's audio/ or a folder of "
         "--ref-audio-dirs (absolute, or relative to the data dir or to one of those folders)")
IGNORED = "accepted and ignored (batches form by themselves: see --batch-sizes)"


class TtsParams(BaseModel):
    """api_v2.py's /tts request (TTS_Request), with its defaults."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "text": "先帝创业未半而中道崩殂。", "text_lang": "zh", "ref_audio_path": "xiaoyun", "prompt_lang": "zh",
        "prompt_text": "", "text_split_method": "cut5", "media_type": "wav", "streaming_mode": False}]})

    text: str | None = Field(None, description="text to speak (required)")
    text_lang: Lower | None = Field(None, description="language of text (required): zh, en, ja, all_zh, "
                                                      "all_ja, auto")
    ref_audio_path: str | None = Field(None, description=f"reference: {VOICE}. Required unless "
                                                         "/set_refer_audio or --default-voice set one")
    aux_ref_audio_paths: Paths = Field([], description="more clips (same rules) whose timbre is averaged in")
    prompt_text: str = Field("", description="transcript of the reference clip; empty: the voice model's")
    prompt_lang: Lower | None = Field(None, description="language of prompt_text (required for a clip "
                                                        "path; a voice model's by default)")
    top_k: Int = Field(15, description="GPT sampling: top k (1-100)")
    top_p: Float = Field(1.0, description="GPT sampling: top p (0-1]")
    temperature: Float = Field(1.0, description="GPT sampling temperature (0-2]")
    text_split_method: Lower = Field("cut5", description="cut0 (none) .. cut5 (at every punctuation mark)")
    batch_size: Int = Field(1, description="segments of the text decoding at once (with parallel_infer); "
                                           "unset: the service's --parallel-segments")
    batch_threshold: Float = Field(0.75, description=IGNORED)
    split_bucket: Bool = Field(True, description="accepted; no effect (continuous batching needs no length "
                                                 "buckets)")
    speed_factor: Float = Field(1.0, description="speed, 0.25-4 (2.0 is twice as fast)")
    fragment_interval: Float = Field(0.3, description="seconds of silence after each segment, 0-10")
    seed: Int = Field(-1, description="-1: random; else 0-4294967295 for repeatable audio")
    media_type: Lower = Field("wav", description="wav, raw (16-bit PCM), ogg, aac; also mp3, flac, opus")
    streaming_mode: StreamingMode = Field(0, description=(
        "0/false: whole audio; 1/true: segment by segment; 2: chunks cut at pauses; 3: fixed-length "
        "chunks (2 and 3: sooner, approximate joins). Streamed wav is a WAV header, then raw PCM"))
    parallel_infer: Bool = Field(True, description="false: the text's segments decode one after another")
    repetition_penalty: Float = Field(1.35, description="GPT repetition penalty (0-2)")
    sample_steps: Int = Field(32, description="accepted and ignored (v3/v4 models only)")
    super_sampling: Bool = Field(False, description="accepted and ignored (v3 models only)")
    overlap_length: Int = Field(2, description="streaming_mode 2/3: codes each chunk re-voices (< "
                                               "min_chunk_length)")
    min_chunk_length: Int = Field(16, description="streaming_mode 2/3: semantic codes per chunk")
    noise_scale: Float = Field(_NOISE_SCALE, description="extension: SoVITS noise scale 0-1")


class LegacyParams(BaseModel):
    """api.py's / request, with its defaults; api_v2's spellings of the same fields are accepted too."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "refer_wav_path": "xiaoyun", "text": "先帝创业未半而中道崩殂。", "text_language": "zh"}]})

    refer_wav_path: str | None = Field(None, validation_alias=AliasChoices("refer_wav_path", "ref_audio_path"),
                                       description=f"reference: {VOICE}; none: the default (/change_refer, "
                                                   "--default-voice)")
    prompt_text: str | None = Field(None, description="transcript of the clip; empty: the voice model's")
    prompt_language: Lower | None = Field(None, validation_alias=AliasChoices("prompt_language", "prompt_lang"),
                                          description="language of prompt_text; empty: the voice model's")
    text: str | None = Field(None, description="text to speak (required)")
    text_language: Lower = Field("auto", validation_alias=AliasChoices("text_language", "text_lang"),
                                 description="language of text: zh, en, ja, all_zh, all_ja, auto, 中文, ...")
    cut_punc: str | None = Field(None, description="marks to cut the text after, e.g. ，。 (default: no cut)")
    top_k: Int = Field(15, description="GPT sampling: top k (1-100)")
    top_p: Float = Field(1.0, description="GPT sampling: top p (0-1]")
    temperature: Float = Field(1.0, description="GPT sampling temperature (0-2]")
    speed: Float = Field(1.0, description="speed, 0.25-4")
    inp_refs: Paths = Field([], description="more clips whose timbre is averaged in")
    sample_steps: Int = Field(32, description="accepted and ignored (v3/v4 models only)")
    if_sr: Bool = Field(False, description="accepted and ignored (v3 models only)")


class ChangeReferParams(BaseModel):
    """api.py's /change_refer (also the reference of api_v2's /set_refer_audio)."""

    model_config = ConfigDict(extra="ignore")
    refer_wav_path: str | None = Field(None, validation_alias=AliasChoices("refer_wav_path", "refer_audio_path"),
                                       description=f"the default reference: {VOICE}")
    prompt_text: str | None = Field(None, description="its transcript; empty: the voice model's")
    prompt_language: Lower | None = Field(None, description="language of prompt_text; empty: the voice model's")


def _fields(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Each field's accepted names (its alias choices, or its own name)."""
    names = {}
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        names[name] = tuple(alias.choices) if isinstance(alias, AliasChoices) else (name,)
    return names


def _is_list(model: type[BaseModel], name: str) -> bool:
    return model.model_fields[name].annotation == list[str]


def query_values(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The query parameters `model` knows; list fields from repeated parameters."""
    query, raw = request.query_params, {}
    for name, spellings in _fields(model).items():
        for spelling in spellings:
            if spelling in query:
                raw[spelling] = query.getlist(spelling) if _is_list(model, name) else query[spelling]
    return raw


async def json_values(request: Request) -> dict[str, Any]:
    """The JSON object of a POST body, or a 400."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise bad("请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise bad("请求体必须是 JSON 对象")
    return data


def read(model: type[BaseModel], raw: dict[str, Any]):
    """`raw` as `model`; null and "" mean "not given" (clients send their empty settings as "")."""
    given = {k: v for k, v in raw.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    return model.model_validate(given)


def has_any(raw: dict[str, Any], model: type[BaseModel]) -> bool:
    return any(spelling in raw for spellings in _fields(model).values() for spelling in spellings)


# ---- the OpenAPI page: these routes read their input themselves, so it is described here ----------
def query_parameters(model: type[BaseModel]) -> list[dict]:
    properties = model.model_json_schema()["properties"]
    return [{"name": name, "in": "query", "required": False, "schema": schema,
             "description": schema.get("description", "")} for name, schema in properties.items()]


def json_body(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}
