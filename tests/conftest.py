"""Shared pytest set-up: MindSpore on the CPU, run op by op with blocking launches (fast on CPU); and
the no-skip policy (`support/required.py`): under CI / TESTS_NO_SKIP=1 / --no-skip any skip is a
failure, elsewhere the skips are listed prominently at the end of the run."""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("GLOG_v", "3")  # MindSpore: errors only

from support.required import NO_SKIP_VARIABLE, must_not_skip, why_strict  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--no-skip", action="store_true", default=False,
                     help=f"fail instead of skipping when an input is missing (as CI=true or {NO_SKIP_VARIABLE}=1)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds")
    config.addinivalue_line("markers", "browser: drives a real Chromium")
    config.addinivalue_line("markers", "server: starts the real server as a subprocess")
    if config.getoption("no_skip"):
        os.environ[NO_SKIP_VARIABLE] = "1"  # read by support.required, here and in any subprocess


def pytest_sessionstart(session):
    # Models are built on the CPU in tests, whatever the machine has.
    from GPT_SoVITS import runtime

    runtime.configure("CPU")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _as_failure(report) -> None:
    """A skip where the run must not skip: the same report, failed, with the skip's reason."""
    report.outcome = "failed"
    report.longrepr = f"skipped, but this run must not skip ({why_strict()}): {_skip_reason(report)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and must_not_skip():
        _as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and must_not_skip():  # a whole module skipped at import
        _as_failure(report)


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons = Counter(_skip_reason(report) for report in skipped)
    terminalreporter.section(f"{len(skipped)} SKIPPED: this run did not check everything", sep="!",
                             yellow=True, bold=True)
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count:5d} x {reason}", yellow=True)
    terminalreporter.line(f"Set CI=true, {NO_SKIP_VARIABLE}=1 or pass --no-skip to make each of these a failure.",
                          bold=True)
