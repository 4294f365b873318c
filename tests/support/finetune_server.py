"""`python tests/support/finetune_server.py <api_ms.py flags>`: the product (api_ms.py) with the fine-tuning
trainers replaced by `ExportingDouble`s (tests/support/finetune_double.py), for the tests that fine-tune a
voice through a real server and kill it. The variables FINETUNE_DOUBLE_GPT / FINETUNE_DOUBLE_SOVITS name the
files the doubles export (copies of the golden tiny weights), FINETUNE_DOUBLE_EVENTS where their events go,
and FINETUNE_DOUBLE_STOP_AT=<model>:<step> makes the trainer stop there for good (for kill -9)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

if __name__ == "__main__":
    from support.finetune_double import register_exporting

    events = os.environ.get("FINETUNE_DOUBLE_EVENTS")
    register_exporting(Path(os.environ["FINETUNE_DOUBLE_GPT"]), Path(os.environ["FINETUNE_DOUBLE_SOVITS"]),
                       Path(events) if events else None)
    import api_ms

    api_ms.main(sys.argv[1:])
