"""Shared pytest set-up: MindSpore on the CPU, run op by op with blocking launches (fast on CPU)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("GLOG_v", "3")  # MindSpore: errors only


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds")
    config.addinivalue_line("markers", "browser: drives a real Chromium")
    config.addinivalue_line("markers", "server: starts the real server as a subprocess")


def pytest_sessionstart(session):
    # Models are built on the CPU in tests, whatever the machine has.
    from GPT_SoVITS import runtime

    runtime.configure("CPU")
