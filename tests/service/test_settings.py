"""Settings are declared once (tts_service/settings.py): every field has its flag, variable and help, the
command line and `from_args` are generated from them, and README's table lists exactly those."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tts_service.settings import Settings, build_parser, from_args, options

README = Path(__file__).resolve().parents[2] / "README.md"

# A text for each setting's variable and the value it must give (a flag or variable reaching the wrong
# field, or read the wrong way, fails here).
SAMPLES = {
    "host": ("127.0.0.2", "127.0.0.2"), "port": ("9001", 9001), "device_target": ("GPU", "GPU"),
    "device_id": ("3", 3), "api_key": ("k3y", "k3y"), "max_upload_mb": ("1.5", 1.5), "max_body_mb": ("2", 2.0),
    "max_text_chars": ("7", 7), "max_prompt_chars": ("8", 8), "max_decodes": ("9", 9), "max_syntheses": ("4", 4),
    "max_synthesis_waiting": ("5", 5), "synthesis_wait": ("0.5", 0.5), "max_waiting_tasks": ("11", 11),
    "max_waiting_tasks_per_user": ("12", 12), "max_task_record_kb": ("13", 13.0), "body_timeout": ("14", 14.0),
    "output_retention": ("2h", 7200.0),
    "cors_origins": ("https://a.org, https://b.org", ("https://a.org", "https://b.org")),
    "task_workers": ("2", 2), "training_workers": ("0", 0), "task_retention": ("30m", 1800.0),
    "task_max_attempts": ("6", 6),
    "redis_url": ("redis://h:1/0", "redis://h:1/0"), "default_voice": ("xiaoyun", "xiaoyun"),
    "batch_sizes": ("4, 1,2", (1, 2, 4)), "parallel_segments": ("3", 3),
    "voice_weights_cache": ("3", 3), "max_training_clips": ("7", 7), "max_recording_seconds": ("90", 90.0),
}
PATHS = ("data_dir", "gpt_path", "sovits_path", "cnhubert_base_path", "bert_path", "sv_path", "ref_audio_dirs")
SWITCHES = ("load_models", "protect_voice_list", "allow_control", "batching")  # flags without a value


def test_every_field_is_an_option_with_a_flag_and_help():
    declared = {f.name for f, _ in options()}
    assert declared == {name for name in Settings.__dataclass_fields__}
    assert declared == set(SAMPLES) | set(PATHS) | set(SWITCHES), "a new setting needs a sample here"
    for f, how in options():
        assert how.flag.startswith("--") and how.help, f.name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_variable_sets_its_field_and_its_flag_wins(name):
    how = dict((f.name, o) for f, o in options())[name]
    text, value = SAMPLES[name]
    assert getattr(from_args([], {how.env: text}), name) == value
    other = "CPU" if name == "device_target" else "17"
    assert getattr(from_args([how.flag, other], {how.env: text}), name) != value


@pytest.mark.parametrize("name", PATHS)
def test_paths_are_resolved_against_the_current_directory(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    how = dict((f.name, o) for f, o in options())[name]
    value = getattr(from_args([], {how.env: "folder"}), name)
    expected = tmp_path.resolve() / "folder"
    assert value == (expected if name == "data_dir" else (str(expected),) if name == "ref_audio_dirs"
                     else str(expected))


@pytest.mark.parametrize("name", SWITCHES)
def test_a_switch_turns_its_default_round_by_flag_or_by_variable(name):
    how = dict((f.name, o) for f, o in options())[name]
    default = getattr(Settings(), name)
    assert how.switch and getattr(from_args([], {}), name) is default
    assert getattr(from_args([how.flag], {}), name) is not default
    if how.env:  # 1/true/yes/on turn it on; anything else leaves it
        assert getattr(from_args([], {how.env: "true"}), name) is not default
        assert getattr(from_args([], {how.env: "0"}), name) is default


def test_help_names_each_variable_and_default():
    actions = {a.dest: a for a in build_parser()._actions}
    for f, how in options():
        text = actions[f.name].help
        if how.switch:
            assert text.endswith(f"[{how.env}=1]" if how.env else how.help), text
        else:
            assert f"[{how.env}] (default: " in text, text


def test_readme_flag_table_lists_exactly_the_declared_options():
    rows = re.findall(r"^\| `(--[a-z-]+)` \| (?:`([^`]+)`|—) \|", README.read_text(encoding="utf-8"), re.M)
    assert rows, "README's flag table was not found"
    assert sorted((flag, env or None) for flag, env in rows) == sorted((how.flag, how.env) for _, how in options())
