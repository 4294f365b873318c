"""Every flag and environment variable of the service, with its default: the one place to look.

Precedence for each setting: command-line flag > environment variable > default. The GPT and SoVITS
paths have one more step, as in the seed: the environment wins over `gweight.txt` / `sweight.txt`
(in the data dir, rewritten by `/set_model`), which wins over the built-in default.
"""
from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 9881
    device_target: str = "CPU"
    device_id: int = 0
    data_dir: Path = REPO_ROOT
    gpt_path: str = DEFAULT_WEIGHTS["gpt"]
    sovits_path: str = DEFAULT_WEIGHTS["sovits"]
    cnhubert_base_path: str = DEFAULT_WEIGHTS["hubert"]
    bert_path: str = DEFAULT_WEIGHTS["bert"]
    sv_path: str = DEFAULT_WEIGHTS["speaker_verifier"]
    api_key: str | None = None
    protect_voice_list: bool = False  # /v1/audio/voices and /v1/audio/models need the key too
    max_upload_mb: float = 20.0  # per uploaded file (avatar, reference clip)
    max_body_mb: float = 50.0  # whole request body
    max_text_chars: int = 5000  # target text of one synthesis
    max_prompt_chars: int = 1000  # prompt_text (the clip's transcript) and every other free-text field
    max_decodes: int = 2  # uploaded clips decoded at once; more wait their turn
    max_syntheses: int = 2  # syntheses in flight (running or holding a slot)
    max_synthesis_waiting: int = 8  # syntheses waiting for a slot; beyond that 503 + Retry-After
    synthesis_wait: float = 60.0  # seconds a synthesis waits for a slot before 503
    max_waiting_tasks: int = 1000  # queued (not yet finished) tasks in all; beyond that 429
    max_waiting_tasks_per_user: int = 100  # queued tasks of one user_id; beyond that 429
    max_task_record_kb: float = 64.0  # one task's stored request, KiB
    body_timeout: float = 30.0  # seconds to receive a whole request body (slow senders are cut off)
    output_retention: float = 24 * 3600.0  # seconds output/direct/ files are kept; <= 0 keeps forever
    cors_origins: tuple[str, ...] = ()
    ref_audio_dirs: tuple[str, ...] = ()  # extra folders a request's ref_wav_path may point into
    load_models: bool = True  # load the weights in the background at start-up
    task_workers: int = 1
    task_retention: float = SEVEN_DAYS  # seconds; <= 0 disables the clean-up
    task_max_attempts: int = 3
    redis_url: str | None = None
    default_voice: str | None = None  # voice model of api.py/api_v2 requests that name no reference
    allow_control: bool = False  # /control may restart/stop the server even without an API key
    extra: dict = field(default_factory=dict, compare=False)  # room for settings of later issues

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


# (flag, environment variable, help). The defaults are those of Settings above.
_OPTIONS: list[tuple[str, str | None, str]] = [
    ("--host", "infer_api_host", "bind address"),
    ("--port", "infer_api_port", "listen port"),
    ("--device-target", "MS_DEVICE_TARGET", "MindSpore device: CPU, Ascend or GPU"),
    ("--device", "infer_device_id", "device index (Ascend NPU / GPU); also exported as ASCEND_DEVICE_ID"),
    ("--data-dir", "TTS_DATA_DIR", "folder of audio/ task/ done/ error/ output/ Logs/ and the JSON stores"),
    ("--gpt-path", "gpt_path", f"GPT (s1) checkpoint; else {GPT_WEIGHT_FILE} in the data dir"),
    ("--sovits-path", "sovits_path", f"SoVITS (s2 generator) weights; else {SOVITS_WEIGHT_FILE} in the data dir"),
    ("--cnhubert-base-path", "cnhubert_base_path", "chinese-hubert-base folder (Hugging Face layout)"),
    ("--bert-path", "bert_path", "chinese-roberta-wwm-ext-large folder (Hugging Face layout)"),
    ("--sv-path", "sv_path", "speaker-verification checkpoint, needed by v2Pro/v2ProPlus only"),
    ("--api-key", "TTS_API_KEY", "if set, every route but /healthz and /ping needs it (Bearer, X-API-Key, ?api_key=)"),
    ("--protect-voice-list", "TTS_PROTECT_VOICE_LIST", "with --api-key: the voice and model listings "
     "(/v1/audio/voices, /v1/audio/models) need the key too; without it they show ids and names to anyone"),
    ("--max-upload-mb", "TTS_MAX_UPLOAD_MB", "largest uploaded file, MiB"),
    ("--max-body-mb", "TTS_MAX_BODY_MB", "largest request body, MiB"),
    ("--max-text-chars", "TTS_MAX_TEXT_CHARS", "longest target text of one synthesis, characters"),
    ("--max-prompt-chars", "TTS_MAX_PROMPT_CHARS", "longest prompt_text and other free-text fields, characters"),
    ("--max-decodes", "TTS_MAX_DECODES", "uploaded clips decoded at once"),
    ("--max-syntheses", "TTS_MAX_SYNTHESES", "syntheses in flight at once"),
    ("--max-synthesis-waiting", "TTS_MAX_SYNTHESIS_WAITING", "syntheses waiting for a slot; more get 503"),
    ("--synthesis-wait", "TTS_SYNTHESIS_WAIT", "seconds a synthesis waits for a slot before 503"),
    ("--max-waiting-tasks", "TTS_MAX_WAITING_TASKS", "unfinished tasks in the queue; more get 429"),
    ("--max-waiting-tasks-per-user", "TTS_MAX_WAITING_TASKS_PER_USER", "unfinished tasks of one user; more get 429"),
    ("--max-task-record-kb", "TTS_MAX_TASK_RECORD_KB", "largest stored task request, KiB"),
    ("--body-timeout", "TTS_BODY_TIMEOUT", "seconds to receive a whole request body"),
    ("--output-retention", "TTS_OUTPUT_RETENTION", "keep output/direct/ files this long: 86400, 12h, 7d; <=0 keeps forever"),
    ("--cors-origins", "TTS_CORS_ORIGINS", "comma-separated origins allowed by CORS ('*' for any); none by default"),
    ("--ref-audio-dirs", "TTS_REF_AUDIO_DIRS", "comma-separated extra folders a ref_wav_path may point into"),
    ("--no-load-models", None, "do not load the weights at start-up (they load on first use)"),
    ("--task-workers", "TASK_WORKERS", "task-queue worker threads"),
    ("--task-retention", "TASK_RETENTION_SECONDS", "keep finished tasks this long: 604800, 30m, 12h, 7d; <=0 keeps forever"),
    ("--task-max-attempts", "TASK_MAX_ATTEMPTS", "runs of one task before it is marked error (restarts included)"),
    ("--redis-url", "REDIS_URL", "share the task queue through Redis (several processes, one data dir), e.g. redis://127.0.0.1:6379/0"),
    ("--default-voice", "TTS_DEFAULT_VOICE", "voice model id used by the api.py / api_v2 routes (/, /tts) when a request names no reference (api.py's -dr/-dt/-dl)"),
    ("--allow-control", "TTS_ALLOW_CONTROL", "let /control restart or stop the server when no API key is set (with a key it is allowed anyway)"),
]


_SWITCHES = ("--no-load-models", "--protect-voice-list", "--allow-control")  # on/off flags: no value
_TRUE = ("1", "true", "yes", "on")


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="api_ms.py",
        description="GPT-SoVITS text-to-speech service on MindSpore. Each flag also reads the environment "
        "variable shown in brackets; a flag wins over its variable.",
    )
    for flag, env, text in _OPTIONS:
        if flag in _SWITCHES:
            parser.add_argument(flag, action="store_true", help=text + (f" [{env}=1]" if env else ""))
            continue
        default = getattr(defaults, "device_id" if flag == "--device" else _dest(flag), None)
        if flag == "--device-target":
            default = "Ascend if its driver is present, else GPU if nvidia-smi is, else CPU"
        if isinstance(default, tuple):
            default = ",".join(default)
        parser.add_argument(flag, dest=_dest(flag), default=None,
                            help=f"{text} [{env}] (default: {default if default not in ('', None) else 'none'})")
    return parser


def _switch(args: dict, env: dict[str, str], flag: str) -> bool:
    """An on/off flag: given, or its variable set to 1/true/yes/on."""
    variable = next(e for f, e, _ in _OPTIONS if f == flag)
    return bool(args.get(_dest(flag))) or (variable is not None and env.get(variable, "").strip().lower() in _TRUE)


def _read_weight_file(data_dir: Path, name: str) -> str | None:
    path = data_dir / name
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        return text or None
    return None


def _model_path(value: str | None, default: str) -> str:
    """A user's relative path means the current directory; the defaults are anchored at the repo."""
    return str(Path(value).expanduser().resolve()) if value else default


def from_args(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from the command line and the environment (flag > variable > default)."""
    env = dict(os.environ if environ is None else environ)
    args = vars(build_parser().parse_args(argv))

    def get(flag: str) -> str | None:
        value = args.get(_dest(flag))
        variable = next(e for f, e, _ in _OPTIONS if f == flag)
        if value is None and variable:
            value = env.get(variable)
        return value if value not in ("", None) else None

    from GPT_SoVITS.runtime import DEVICE_TARGETS, detect_device_target

    base = Settings()
    data_dir = Path(get("--data-dir") or REPO_ROOT).expanduser().resolve()
    target = get("--device-target") or detect_device_target()
    if target not in DEVICE_TARGETS:
        raise SystemExit(f"--device-target must be one of {', '.join(DEVICE_TARGETS)}, not {target!r}")
    number = lambda flag, cast, default: cast(get(flag)) if get(flag) is not None else default  # noqa: E731
    try:
        return Settings(
            host=get("--host") or base.host,
            port=number("--port", int, base.port),
            device_target=target,
            device_id=number("--device", int, base.device_id),
            data_dir=data_dir,
            gpt_path=_model_path(get("--gpt-path") or _read_weight_file(data_dir, GPT_WEIGHT_FILE), base.gpt_path),
            sovits_path=_model_path(get("--sovits-path") or _read_weight_file(data_dir, SOVITS_WEIGHT_FILE),
                                    base.sovits_path),
            cnhubert_base_path=_model_path(get("--cnhubert-base-path"), base.cnhubert_base_path),
            bert_path=_model_path(get("--bert-path"), base.bert_path),
            sv_path=_model_path(get("--sv-path"), base.sv_path),
            api_key=get("--api-key"),
            protect_voice_list=_switch(args, env, "--protect-voice-list"),
            max_upload_mb=number("--max-upload-mb", float, base.max_upload_mb),
            max_body_mb=number("--max-body-mb", float, base.max_body_mb),
            max_text_chars=number("--max-text-chars", int, base.max_text_chars),
            max_prompt_chars=number("--max-prompt-chars", int, base.max_prompt_chars),
            max_decodes=number("--max-decodes", int, base.max_decodes),
            max_syntheses=number("--max-syntheses", int, base.max_syntheses),
            max_synthesis_waiting=number("--max-synthesis-waiting", int, base.max_synthesis_waiting),
            synthesis_wait=number("--synthesis-wait", float, base.synthesis_wait),
            max_waiting_tasks=number("--max-waiting-tasks", int, base.max_waiting_tasks),
            max_waiting_tasks_per_user=number("--max-waiting-tasks-per-user", int,
                                              base.max_waiting_tasks_per_user),
            max_task_record_kb=number("--max-task-record-kb", float, base.max_task_record_kb),
            body_timeout=number("--body-timeout", float, base.body_timeout),
            output_retention=parse_duration(get("--output-retention"), base.output_retention),
            cors_origins=_split(get("--cors-origins") or ""),
            ref_audio_dirs=tuple(str(Path(p).expanduser().resolve()) for p in _split(get("--ref-audio-dirs") or "")),
            load_models=not args.get("no_load_models"),
            task_workers=number("--task-workers", int, base.task_workers),
            task_retention=parse_duration(get("--task-retention"), base.task_retention),
            task_max_attempts=number("--task-max-attempts", int, base.task_max_attempts),
            redis_url=get("--redis-url"),
            default_voice=get("--default-voice"),
            allow_control=_switch(args, env, "--allow-control"),
        )
    except ValueError as exc:
        raise SystemExit(f"api_ms.py: bad setting: {exc}") from None


# The setting, flag and variable of each weight file of the library (`GPT_SoVITS.versions.WEIGHT_FILES`):
# the error for missing weights names the flag and variable.
WEIGHT_SETTINGS = {
    "gpt": ("gpt_path", "--gpt-path", "gpt_path"),
    "sovits": ("sovits_path", "--sovits-path", "sovits_path"),
    "hubert": ("cnhubert_base_path", "--cnhubert-base-path", "cnhubert_base_path"),
    "bert": ("bert_path", "--bert-path", "bert_path"),
    "speaker_verifier": ("sv_path", "--sv-path", "sv_path"),
}
