"""Start the GPT-SoVITS service: `python3 api_ms.py [--help]`.

A thin entry point: settings come from tts_service.settings (flags and environment variables),
the application from tts_service.app. Weights load in the background; the server answers at once.
"""
from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    from tts_service.logs import configure_server_log, uvicorn_log_config
    from tts_service.settings import from_args

    settings = from_args(argv)
    # The Ascend runtime reads the device index from these (the seed's --device did the same).
    os.environ.setdefault("ASCEND_DEVICE_ID", str(settings.device_id))
    os.environ.setdefault("DEVICE_ID", str(settings.device_id))
    configure_server_log()

    import uvicorn

    from tts_service.app import create_app

    app = create_app(settings)
    print(f"GPT-SoVITS service: http://{settings.host}:{settings.port}/index  (API docs: /docs)", file=sys.stderr)
    # uvicorn's access lines carry the query string (?api_key=): its formatters are swapped for redacting ones
    uvicorn.run(app, host=settings.host, port=settings.port, workers=1, log_level="info",
                log_config=uvicorn_log_config())


if __name__ == "__main__":
    main()
