"""Command line of the text frontend, JSON lines in and out.

  python -m GPT_SoVITS.text phones < in.jsonl   # {"text", "language", "version"} -> norm_text, phones, ...
  python -m GPT_SoVITS.text cut < in.jsonl      # {"text", "how_to_cut", "language"?} -> {"segments": [...]}

`language` is a mode (all_zh, zh, all_ja, ja, en, auto) or a service label (中文, 中英混合, ...);
`version` is v1 or v2 (default v2; later model versions use the v2 symbols). A line that cannot be
processed gives {"error": "..."} and the next line is read; the exit status is 1 if any line failed.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Callable, TextIO


def _phones(request: dict) -> dict:
    from ..versions import VERSIONS
    from .languages import to_mode
    from .routing import get_phones

    text = _field(request, "text")
    mode = to_mode(_field(request, "language"))
    version = request.get("version", "v2")
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}")
    result = get_phones(text, mode, VERSIONS[version].symbols)
    reply = {"norm_text": result.norm_text, "phones": result.phones, "phone_ids": result.phone_ids}
    if any(s.word2ph is not None for s in result.segments):
        reply["word2ph"] = [n for s in result.segments for n in (s.word2ph or [])]
    reply["segments"] = [
        {"lang": s.lang, "text": s.text, "norm_text": s.norm_text, "phones": s.phones,
         "phone_ids": s.phone_ids, "word2ph": s.word2ph}
        for s in result.segments
    ]
    return reply


def _cut(request: dict) -> dict:
    from .cuts import cut_text
    from .languages import to_mode

    mode = to_mode(request.get("language", "all_zh"))
    return {"segments": cut_text(_field(request, "text"), request.get("how_to_cut", "cut0"), mode)}


def _field(request: dict, name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str):
        raise ValueError(f'"{name}" must be a string')
    return value


COMMANDS: dict[str, Callable[[dict], dict]] = {"phones": _phones, "cut": _cut}


def run(command: str, lines: TextIO, out: TextIO) -> int:
    handler = COMMANDS[command]
    failed = False
    for line in lines:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("each line must be a JSON object")
            reply = handler(request)
        except Exception as exc:  # noqa: BLE001 - one bad line must not stop the stream
            failed = True
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in COMMANDS:
        sys.stderr.write(__doc__ or "")
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return run(argv[0], sys.stdin, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
