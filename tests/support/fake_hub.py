"""A stand-in for the Hugging Face Hub on 127.0.0.1, for the download command's tests: the endpoints that
huggingface_hub's file downloads use, over a small file set the test makes, with the faults a test asks for.

As the real hub does it: `HEAD/GET /{repo}/resolve/{revision}/{path}` answers a small (git) file itself with
`ETag` = its git blob id; a large (LFS) file is a 302 to a storage URL, the answer carrying `X-Linked-Etag`
(its sha256) and `X-Linked-Size`; every answer has `X-Repo-Commit`. The file itself honours `Range: bytes=N-`
(206 + Content-Range), which is how an interrupted download resumes.

Faults: `cut[path] = n` sends the next GET of that file's bytes only up to n and then drops the connection;
`served[path] = data` serves other bytes than those the hub's record (size and hash) describes.
`requests` logs (method, path) of every request; `fetched` (file, Range header) of every GET of a file's bytes.
"""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_PREFIX = "/lfs/"


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, repo_id: str, files: dict[str, bytes], small_suffixes: tuple[str, ...] = (".json",)):
        self.repo_id, self.files, self.small_suffixes = repo_id, dict(files), small_suffixes
        self.cut: dict[str, int] = {}
        self.served: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.fetched: list[tuple[str, str | None]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def is_lfs(self, path: str) -> bool:
        return not path.endswith(self.small_suffixes)

    def by_sha256(self, digest: str) -> str | None:
        return next((p for p, d in self.files.items() if hashlib.sha256(d).hexdigest() == digest), None)

    def ranges(self, path: str) -> list[str | None]:
        """The Range header of each GET of this file's bytes, in order (None: the whole file)."""
        return [wanted for name, wanted in self.fetched if name == path]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            path = unquote(self.path.split("?", 1)[0])
            hub.requests.append((self.command, path))
            if path.startswith(LFS_PREFIX):
                name = hub.by_sha256(path[len(LFS_PREFIX):])
                return self._not_found() if name is None else self._content(name, body, {})
            prefix = f"/{hub.repo_id}/resolve/"
            if not path.startswith(prefix) or "/" not in path[len(prefix):]:
                return self._not_found()
            name = path[len(prefix):].split("/", 1)[1]
            if name not in hub.files:
                return self._not_found()
            data = hub.files[name]
            if not hub.is_lfs(name):
                return self._content(name, body, {"ETag": f'"{blob_id(data)}"'})
            digest = hashlib.sha256(data).hexdigest()
            self.send_response(302)
            for key, value in {"Location": f"{hub.url}{LFS_PREFIX}{digest}", "X-Repo-Commit": COMMIT,
                               "X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(len(data)),
                               "ETag": f'"{blob_id(data)}"', "Content-Length": "0"}.items():
                self.send_header(key, value)
            self.end_headers()

        def _content(self, name: str, body: bool, headers: dict[str, str]) -> None:
            data = hub.served.get(name, hub.files[name])
            start = 0
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[len("bytes="):-1])
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not body:
                return
            hub.fetched.append((name, self.headers.get("Range")))
            cut = hub.cut.pop(name, None)
            if cut is not None:  # the connection drops part way: the client has `cut` bytes
                self.wfile.write(data[start:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data[start:])

        def _not_found(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
