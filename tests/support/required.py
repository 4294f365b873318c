"""The one place that decides whether a test may skip for want of an input.

A run "must not skip" on CI (`CI` set to 1/true/yes/on, any case), with `TESTS_NO_SKIP=1`, or with
`pytest --no-skip` (which sets `TESTS_NO_SKIP` for the run). Then every missing input -- golden data,
the English reference data, a system tool, redis-server, Chromium -- is a failure that says what is
missing and how to get it, and `tests/conftest.py` turns any other skip into a failure as well: a green
run there means every test ran. Elsewhere a missing input is a skip with the same message, and the end
of the run lists the skips and their reasons.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

NO_SKIP_VARIABLE = "TESTS_NO_SKIP"
_TRUE = {"1", "true", "yes", "on"}

# How to get each system tool the tests use (tests/run.sh installs them all with apt-get).
TOOL_PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox", "ffmpeg": "ffmpeg", "redis-server": "redis-server"}


def _is_true(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in _TRUE


def must_not_skip() -> bool:
    """True on CI, with TESTS_NO_SKIP=1, or under `pytest --no-skip`."""
    return _is_true("CI") or _is_true(NO_SKIP_VARIABLE)


def why_strict() -> str:
    return "CI is set" if _is_true("CI") else f"{NO_SKIP_VARIABLE}=1 / --no-skip"


def missing(what: str, how: str) -> NoReturn:
    """`what` is not there: a failure where the run must not skip, else a skip; both say how to get it."""
    message = f"missing: {what}; to get it: {how}"
    if must_not_skip():
        pytest.fail(f"{message} (this run must not skip: {why_strict()})", pytrace=False)
    pytest.skip(message)


def need_tool(name: str) -> str:
    """The path of a system tool, or `missing` naming its package."""
    found = shutil.which(name)
    if found is None:
        package = TOOL_PACKAGES.get(name, name)
        missing(f"the system tool {name} (not on PATH)",
                f"apt-get install {package} (bash tests/run.sh installs it, as root or with sudo)")
    return found


def need_path(path: Path, what: str, how: str) -> Path:
    if not Path(path).exists():
        missing(f"{what} ({path})", how)
    return Path(path)
