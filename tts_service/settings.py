"""Every flag and environment variable of the service, with its default: the one place to look.

Each setting is declared once, as a field of `Settings` whose metadata (`option`) holds its flag, its
variable, its help text and how its text is read; the command line (`build_parser`, `--help`) and
`from_args` are generated from those declarations.

Precedence for each setting: command-line flag > environment variable > default. The GPT and SoVITS
paths have one more step, as in the seed: the environment wins over `gweight.txt` / `sweight.txt`
(in the data dir, rewritten by `/set_model`), which wins over the built-in default.
"""
from __future__ import annotations

import argparse
import os
import re
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from GPT_SoVITS.versions import default_paths

REPO_ROOT = Path(__file__).resolve().parent.parent
# The reference's public files (v2 base models), from the library's version registry.
DEFAULT_WEIGHTS = default_paths(REPO_ROOT)

GPT_WEIGHT_FILE = "gweight.txt"
SOVITS_WEIGHT_FILE = "sweight.txt"
SEVEN_DAYS = 7 * 24 * 3600.0
MIB = 1024 * 1024


def parse_duration(text: str | float | int | None, default: float = SEVEN_DAYS) -> float:
    """Seconds from `604800`, `30s`, `30m`, `1.5h` or `7d` (the seed's syntax); unparsable -> default."""
    if text is None:
        return default
    if isinstance(text, (int, float)):
        return float(text)
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        return default
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[,;\s]+", text or "") if p.strip())


SWITCH_ON = ("1", "true", "yes", "on")  # a switch's variable that turns it on
Parse = Callable[[str, Any], Any]  # (the flag's or variable's text, the default) -> the value
Fallback = Callable[[dict[str, Any]], "str | None"]  # the values read so far -> text to use when unset


def _number(kind: type) -> Parse:
    return lambda text, _default: kind(text)


def _text(text: str, _default: Any) -> str:
    return text


def _folder(text: str, _default: Any) -> Path:
    return Path(text).expanduser().resolve()


def _user_path(text: str, _default: Any) -> str:
    """A user's relative path means the current directory; the defaults are anchored at the repo."""
    return str(Path(text).expanduser().resolve())


def _names(text: str, _default: Any) -> tuple[str, ...]:
    return _split(text)


def _sizes(text: str, _default: Any) -> tuple[int, ...]:
    sizes = tuple(sorted({int(part) for part in _split(text)}))
    if not sizes or sizes[0] < 1:
        raise ValueError(f"batch sizes must be positive integers, not {text!r}")
    return sizes


def _folders(text: str, _default: Any) -> tuple[str, ...]:
    return tuple(_user_path(part, None) for part in _split(text))


def _device_target(text: str, _default: Any) -> str:
    from GPT_SoVITS.runtime import DEVICE_TARGETS

    if text not in DEVICE_TARGETS:
        raise SystemExit(f"--device-target must be one of {', '.join(DEVICE_TARGETS)}, not {text!r}")
    return text


def _detected_device(_values: dict[str, Any]) -> str:
    from GPT_SoVITS.runtime import detect_device_target

    return detect_device_target()


def _weight_file(name: str) -> Fallback:
    """The path `/set_model` saved in the data dir (read before the built-in default)."""
    def read(values: dict[str, Any]) -> str | None:
        path = Path(values["data_dir"]) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() or None
        return None
    return read


@dataclass(frozen=True)
class Option:
    """How one setting is given: its flag, its environment variable (None: flag only), the help line, how
    its text becomes the value, and optionally what is read when neither is given (before the default)."""

    flag: str
    env: str | None
    help: str
    parse: Parse | None = None  # None: as the default's type (int, float or str)
    fallback: Fallback | None = None
    shown_default: str | None = None  # --help's default when it is not the value itself
    switch: bool = False  # a flag without a value: present (or its variable 1/true/yes/on) -> not the default

    def read(self, text: str, default: Any) -> Any:
        parse = self.parse or _number(type(default) if isinstance(default, (int, float)) else str)
        return parse(text, default)


def option(default: Any, flag: str, env: str | None, help: str, **how: Any) -> Any:
    """A field of `Settings` with its command line; `default` is the field's default."""
    return field(default=default, metadata={"option": Option(flag, env, help, **how)})


@dataclass(frozen=True)
class Settings:
    host: str = option("0.0.0.0", "--host", "infer_api_host", "bind address")
    port: int = option(9881, "--port", "infer_api_port", "listen port")
    device_target: str = option(
        "CPU", "--device-target", "MS_DEVICE_TARGET", "MindSpore device: CPU, Ascend or GPU",
        parse=_device_target, fallback=_detected_device,
        shown_default="Ascend if its driver is present, else GPU if nvidia-smi is, else CPU")
    device_id: int = option(0, "--device", "infer_device_id",
                            "device index (Ascend NPU / GPU); also exported as ASCEND_DEVICE_ID")
    data_dir: Path = option(REPO_ROOT, "--data-dir", "TTS_DATA_DIR",
                            "folder of audio/ task/ done/ error/ output/ Logs/ and the JSON stores", parse=_folder)
    gpt_path: str = option(DEFAULT_WEIGHTS["gpt"], "--gpt-path", "gpt_path",
                           f"GPT (s1) checkpoint; else {GPT_WEIGHT_FILE} in the data dir",
                           parse=_user_path, fallback=_weight_file(GPT_WEIGHT_FILE))
    sovits_path: str = option(DEFAULT_WEIGHTS["sovits"], "--sovits-path", "sovits_path",
                              f"SoVITS (s2 generator) weights; else {SOVITS_WEIGHT_FILE} in the data dir",
                              parse=_user_path, fallback=_weight_file(SOVITS_WEIGHT_FILE))
    cnhubert_base_path: str = option(DEFAULT_WEIGHTS["hubert"], "--cnhubert-base-path", "cnhubert_base_path",
                                     "chinese-hubert-base folder (Hugging Face layout)", parse=_user_path)
    bert_path: str = option(DEFAULT_WEIGHTS["bert"], "--bert-path", "bert_path",
                            "chinese-roberta-wwm-ext-large folder (Hugging Face layout)", parse=_user_path)
    sv_path: str = option(DEFAULT_WEIGHTS["speaker_verifier"], "--sv-path", "sv_path",
                          "speaker-verification checkpoint, needed by v2Pro/v2ProPlus only", parse=_user_path)
    api_key: str | None = option(None, "--api-key", "TTS_API_KEY",
                                 "if set, every route but /healthz and /ping needs it (Bearer, X-API-Key, "
                                 "?api_key=)", parse=_text)
    protect_voice_list: bool = option(
        False, "--protect-voice-list", "TTS_PROTECT_VOICE_LIST", "with --api-key: the voice and model listings "
        "(/v1/audio/voices, /v1/audio/models) need the key too; without it they show ids and names to anyone",
        switch=True)
    max_upload_mb: float = option(20.0, "--max-upload-mb", "TTS_MAX_UPLOAD_MB", "largest uploaded file, MiB")
    max_body_mb: float = option(50.0, "--max-body-mb", "TTS_MAX_BODY_MB", "largest request body, MiB")
    max_text_chars: int = option(5000, "--max-text-chars", "TTS_MAX_TEXT_CHARS",
                                 "longest target text of one synthesis, characters")
    max_prompt_chars: int = option(1000, "--max-prompt-chars", "TTS_MAX_PROMPT_CHARS",
                                   "longest prompt_text and other free-text fields, characters")
    max_decodes: int = option(2, "--max-decodes", "TTS_MAX_DECODES", "uploaded clips decoded at once")
    max_syntheses: int = option(8, "--max-syntheses", "TTS_MAX_SYNTHESES",
                                "syntheses in flight at once (with batching their segments share the GPT's batch)")
    max_synthesis_waiting: int = option(8, "--max-synthesis-waiting", "TTS_MAX_SYNTHESIS_WAITING",
                                        "syntheses waiting for a slot; more get 503")
    synthesis_wait: float = option(60.0, "--synthesis-wait", "TTS_SYNTHESIS_WAIT",
                                   "seconds a synthesis waits for a slot before 503")
    max_waiting_tasks: int = option(1000, "--max-waiting-tasks", "TTS_MAX_WAITING_TASKS",
                                    "unfinished tasks in the queue; more get 429")
    max_waiting_tasks_per_user: int = option(100, "--max-waiting-tasks-per-user", "TTS_MAX_WAITING_TASKS_PER_USER",
                                             "unfinished tasks of one user; more get 429")
    max_task_record_kb: float = option(64.0, "--max-task-record-kb", "TTS_MAX_TASK_RECORD_KB",
                                       "largest stored task request, KiB")
    body_timeout: float = option(30.0, "--body-timeout", "TTS_BODY_TIMEOUT",
                                 "seconds to receive a whole request body")
    output_retention: float = option(
        24 * 3600.0, "--output-retention", "TTS_OUTPUT_RETENTION",
        "keep output/direct/ files this long: 86400, 12h, 7d; <=0 keeps forever", parse=parse_duration)
    cors_origins: tuple[str, ...] = option(
        (), "--cors-origins", "TTS_CORS_ORIGINS",
        "comma-separated origins allowed by CORS ('*' for any); none by default", parse=_names)
    ref_audio_dirs: tuple[str, ...] = option(
        (), "--ref-audio-dirs", "TTS_REF_AUDIO_DIRS", "comma-separated extra folders a ref_wav_path may point into",
        parse=_folders)
    batching: bool = option(
        True, "--no-batching", "TTS_NO_BATCHING", "decode one segment at a time, each alone, instead of every "
        "request's segments together in one batch (to compare; the output is the same)", switch=True)
    batch_sizes: tuple[int, ...] = option(
        (1, 2, 4, 8), "--batch-sizes", "TTS_BATCH_SIZES", "comma-separated batch sizes of the GPT's compiled "
        "step; the largest is the most segments decoding at once", parse=_sizes)
    parallel_segments: int = option(
        4, "--parallel-segments", "TTS_PARALLEL_SEGMENTS", "segments of one text decoding at once, unless a "
        "request asks (/tts: batch_size with parallel_infer)")
    load_models: bool = option(True, "--no-load-models", None,
                               "do not load the weights at start-up (they load on first use)", switch=True)
    voice_weights_cache: int = option(
        2, "--voice-weights-cache", "TTS_VOICE_WEIGHTS_CACHE", "GPT/SoVITS pairs of voices with their own "
        "(fine-tuned) weights kept loaded beside the default pair, least recently used dropped first (at least 1)")
    max_training_clips: int = option(
        200, "--max-training-clips", "TTS_MAX_TRAINING_CLIPS", "training clips one voice model may hold (a form "
        "or archive that would pass it is refused)")
    max_recording_seconds: float = option(
        600.0, "--max-recording-seconds", "TTS_MAX_RECORDING_SECONDS", "longest recording a training upload may "
        "have sliced at silences")
    task_workers: int = option(1, "--task-workers", "TASK_WORKERS", "task-queue worker threads")
    training_workers: int = option(
        1, "--training-workers", "TRAINING_WORKERS", "task-queue workers that run only fine-tunes, while the "
        "--task-workers run only syntheses (a queued synthesis never waits behind a training); 0: this process "
        "runs no fine-tune (with --redis-url another process may: a device of its own for training)")
    task_retention: float = option(
        SEVEN_DAYS, "--task-retention", "TASK_RETENTION_SECONDS",
        "keep finished tasks this long: 604800, 30m, 12h, 7d; <=0 keeps forever", parse=parse_duration)
    task_max_attempts: int = option(3, "--task-max-attempts", "TASK_MAX_ATTEMPTS",
                                    "runs of one task before it is marked error (restarts included)")
    redis_url: str | None = option(
        None, "--redis-url", "REDIS_URL", "share the task queue through Redis (several processes, one data dir), "
        "e.g. redis://127.0.0.1:6379/0", parse=_text)
    default_voice: str | None = option(
        None, "--default-voice", "TTS_DEFAULT_VOICE", "voice model id used by the api.py / api_v2 routes (/, /tts) "
        "when a request names no reference (api.py's -dr/-dt/-dl)", parse=_text)
    allow_control: bool = option(
        False, "--allow-control", "TTS_ALLOW_CONTROL",
        "let /control restart or stop the server when no API key is set (with a key it is allowed anyway)", switch=True)

    # Where things live under the data dir (one place for every folder name).
    @property
    def audio_dir(self) -> Path:
        return Path(self.data_dir) / "audio"

    @property
    def output_dir(self) -> Path:
        return Path(self.data_dir) / "output"

    @property
    def direct_output_dir(self) -> Path:
        """What /synthesize keeps (its X-Output-Url), removed after `output_retention`."""
        return self.output_dir / "direct"

    @property
    def task_dir(self) -> Path:
        return Path(self.data_dir) / "task"

    @property
    def done_dir(self) -> Path:
        return Path(self.data_dir) / "done"

    @property
    def error_dir(self) -> Path:
        return Path(self.data_dir) / "error"

    @property
    def logs_dir(self) -> Path:
        return Path(self.data_dir) / "Logs"

    @property
    def staging_dir(self) -> Path:
        """Uploads are assembled here, then renamed into audio/ in one step (same file system)."""
        return Path(self.data_dir) / ".staging"

    @property
    def voices_dir(self) -> Path:
        """Each voice model's private files (training data, fine-tune runs, its own weights): not served,
        unlike audio/."""
        return Path(self.data_dir) / "voices"

    @property
    def voice_models_file(self) -> Path:
        return Path(self.data_dir) / "voice_models.json"

    @property
    def categories_file(self) -> Path:
        return Path(self.data_dir) / "voice_categories.json"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * MIB)

    def ensure_layout(self) -> None:
        for folder in (self.audio_dir, self.output_dir, self.task_dir, self.done_dir, self.error_dir,
                       self.logs_dir, self.staging_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for store in (self.voice_models_file, self.categories_file):
            if not store.exists():
                store.write_text("[]", encoding="utf-8")


def options() -> list[tuple[Field, Option]]:
    """Every setting with its command line, in declaration order (the order of --help)."""
    return [(f, f.metadata["option"]) for f in fields(Settings)]


def _shown(default: Any, how: Option) -> str:
    if how.shown_default is not None:
        return how.shown_default
    if isinstance(default, tuple):
        default = ",".join(map(str, default))
    return "none" if default in ("", None) else str(default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="api_ms.py",
        description="GPT-SoVITS text-to-speech service on MindSpore. Each flag also reads the environment "
        "variable shown in brackets; a flag wins over its variable.",
    )
    for f, how in options():
        if how.switch:
            parser.add_argument(how.flag, dest=f.name, action="store_true",
                                help=how.help + (f" [{how.env}=1]" if how.env else ""))
            continue
        metavar = how.flag.lstrip("-").replace("-", "_").upper()  # argparse's own, from the flag
        parser.add_argument(how.flag, dest=f.name, default=None, metavar=metavar,
                            help=f"{how.help} [{how.env}] (default: {_shown(f.default, how)})")
    return parser


def from_args(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from the command line and the environment (flag > variable > default)."""
    env = dict(os.environ if environ is None else environ)
    args = vars(build_parser().parse_args(argv))
    values: dict[str, Any] = {}
    try:
        for f, how in options():
            values[f.name] = _value(args[f.name], env.get(how.env) if how.env else None, values, f.default, how)
    except ValueError as exc:
        raise SystemExit(f"api_ms.py: bad setting: {exc}") from None
    return Settings(**values)


def _value(given: Any, variable: str | None, values: dict[str, Any], default: Any, how: Option) -> Any:
    """flag > variable > fallback > default; an empty text counts as not given."""
    if how.switch:
        return not default if given or (variable or "").strip().lower() in SWITCH_ON else default
    text = next((t for t in (given, variable) if t not in ("", None)), None)
    if text is None and how.fallback is not None:
        text = how.fallback(values)
    return default if text is None else how.read(text, default)


def flag_and_variable(name: str) -> tuple[str, str | None]:
    """How the setting `name` is given (for messages that tell the user what to set)."""
    how = next(how for f, how in options() if f.name == name)
    return how.flag, how.env


# The setting, flag and variable of each weight file of the library (`GPT_SoVITS.versions.WEIGHT_FILES`):
# the error for missing weights names the flag and variable.
WEIGHT_SETTINGS = {key: (name, *flag_and_variable(name)) for key, name in (
    ("gpt", "gpt_path"), ("sovits", "sovits_path"), ("hubert", "cnhubert_base_path"), ("bert", "bert_path"),
    ("speaker_verifier", "sv_path"))}
