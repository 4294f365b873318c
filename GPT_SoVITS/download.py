"""Fetch the released GPT-SoVITS weights in one command, into the paths the service reads by default.

    python -m GPT_SoVITS.download v2            # v2's GPT and SoVITS, HuBERT, BERT
    python -m GPT_SoVITS.download v2Pro v1      # several at once; also v2ProPlus, hubert, bert, speaker_verifier, all
    python -m GPT_SoVITS.download v2 --endpoint https://hf-mirror.com   # any mirror of the Hugging Face API

Which files a version needs and where they go are the version registry's (`versions.py`); they come from the
reference's model repository on Hugging Face (lj1995/GPT-SoVITS), whose layout is that of
GPT_SoVITS/pretrained_models/. huggingface_hub does the transfer: a progress bar per file, and a file cut off
part way resumes where it stopped on the next run (the part waits under <dir>/.cache/huggingface/).
Every file is then checked against the hub's own record of it, its size and its hash (the sha256 of a large
file, the git blob id of a small one), and a released SoVITS file also against the registry's md5 of its
head, which a mirror cannot change. A file already there that matches is not fetched again; one that does
not is fetched anew; a download that still does not match is deleted and reported.

This is the only code that downloads anything: the service never does, it reads what is on disk.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from .versions import DEFAULT_VERSION, PRETRAINED, SUPPORTED, VERSIONS, WEIGHT_FILES

REPO_ID = "lj1995/GPT-SoVITS"
REVISION = "main"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / PRETRAINED  # the service's default weight folder
SHARED = tuple(key for key, w in WEIGHT_FILES.items() if w.shared)  # hubert, bert, speaker_verifier
ALL = "all"
# The files of each Hugging Face folder in the registry, as the model repository holds them: what the
# loaders read, and HuBERT's preprocessor config, which the reference's folder has.
HUB_FOLDERS = {
    "chinese-hubert-base": ("config.json", "preprocessor_config.json", "pytorch_model.bin"),
    "chinese-roberta-wwm-ext-large": ("config.json", "pytorch_model.bin", "tokenizer.json"),
}


class DownloadError(RuntimeError):
    """A file that could not be fetched or does not match what is known of it."""


def choices() -> list[str]:
    return [*SUPPORTED, *SHARED, ALL]


def _released(name: str) -> dict[str, str]:
    """Registry key -> path in the model repository (= under PRETRAINED) of a version's or a shared set's files."""
    paths = VERSIONS[name].released() if name in VERSIONS else {name: f"{PRETRAINED}/{WEIGHT_FILES[name].shared}"}
    return {key: path.removeprefix(PRETRAINED + "/") for key, path in paths.items()}


def files_for(targets: list[str]) -> list[str]:
    """The repository paths the named versions and shared sets need, each once, in a stable order."""
    for target in targets:
        if target in VERSIONS and target not in SUPPORTED:
            raise DownloadError(f"{target!r} is a GPT-SoVITS version this port recognises but does not run; "
                                f"choose from {', '.join(choices())}")
        if target not in choices():
            raise DownloadError(f"unknown version or file set {target!r}; choose from {', '.join(choices())}")
    paths: list[str] = []
    for name in [*SUPPORTED, *SHARED] if ALL in targets else targets:
        for path in _released(name).values():
            paths += [f"{path}/{f}" for f in HUB_FOLDERS[path]] if path in HUB_FOLDERS else [path]
    return list(dict.fromkeys(paths))


def known_head_md5(path: str) -> tuple[str, ...]:
    """The registry's md5s of the first 8192 bytes of a released SoVITS file (empty: none known)."""
    return next((v.pretrained_md5 for v in VERSIONS.values() if v.sovits_file == path and v.pretrained_md5), ())


@dataclass(frozen=True)
class HubRecord:
    """What the hub says a file is: its size, and its ETag (a hash of its content, see `mismatch`)."""

    size: int | None
    etag: str | None


def git_blob_id(path: Path) -> str:
    """The id git (and so the hub, for a file kept in git rather than LFS) gives this content."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def mismatch(path: Path, record: HubRecord, head_md5: tuple[str, ...] = ()) -> str | None:
    """Why the file on disk is not the hub's file (or not a release the registry knows), or None when it is."""
    size = path.stat().st_size
    if record.size is not None and size != record.size:
        return f"it has {size} bytes, the hub's file {record.size}"
    etag = (record.etag or "").lower()
    if len(etag) == 64 and file_sha256(path) != etag:  # an LFS file: the ETag is the content's sha256
        return f"its sha256 is not the hub's {etag}"
    if len(etag) == 40 and git_blob_id(path) != etag:  # a file kept in git: the ETag is its blob id
        return f"its git blob id is not the hub's {etag}"
    if head_md5:  # the reference's own fingerprint of its released SoVITS files: a mirror cannot swap them
        with path.open("rb") as f:
            if hashlib.md5(f.read(8192)).hexdigest() not in head_md5:
                return "its first 8192 bytes are not those of the release the version registry knows"
    return None


class Hub:
    """One Hugging Face repository at one revision, through huggingface_hub (imported only here)."""

    def __init__(self, endpoint: str | None, repo_id: str = REPO_ID, revision: str = REVISION):
        import huggingface_hub

        self.hf, self.endpoint, self.repo_id, self.revision = huggingface_hub, endpoint, repo_id, revision

    def record(self, path: str) -> HubRecord:
        url = self.hf.hf_hub_url(self.repo_id, path, revision=self.revision, endpoint=self.endpoint)
        meta = self.hf.get_hf_file_metadata(url, endpoint=self.endpoint)
        return HubRecord(meta.size, meta.etag)

    def download(self, path: str, root: Path) -> None:
        self.hf.hf_hub_download(self.repo_id, path, revision=self.revision, endpoint=self.endpoint,
                                local_dir=root)


def fetch(hub: Hub, path: str, root: Path) -> str:
    """Makes root/path the hub's file; says what was done ("present", "fetched", "replaced")."""
    record, known = hub.record(path), known_head_md5(path)
    local = root / path
    done = "fetched"
    if local.is_file():
        if mismatch(local, record, known) is None:
            return "present"
        local.unlink()  # not the hub's file (damaged, or an older release): fetched anew
        done = "replaced"
    hub.download(path, root)
    problem = mismatch(local, record, known)
    if problem is not None:
        local.unlink()
        raise DownloadError(f"the download does not match ({problem}); it was deleted, run the command again")
    return done


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m GPT_SoVITS.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", metavar="VERSION",
                        help=f"what to fetch: {', '.join(choices())} (a version brings the shared files it needs)")
    parser.add_argument("--endpoint", default=None,
                        help="Hugging Face API endpoint, e.g. https://hf-mirror.com (default: HF_ENDPOINT, "
                             "else https://huggingface.co)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help=f"where the files go (default: {PRETRAINED} in this repository, the service's default)")
    parser.add_argument("--revision", default=REVISION, help="branch, tag or commit of the model repository")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = files_for(args.targets)
    except DownloadError as exc:
        print(f"GPT_SoVITS.download: {exc}", file=sys.stderr)
        return 2
    root = args.dir.expanduser().resolve()
    hub = Hub(args.endpoint, revision=args.revision)
    for path in paths:
        try:
            done = fetch(hub, path, root)
        except DownloadError as exc:
            print(f"GPT_SoVITS.download: {path}: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # huggingface_hub's HTTP and connection errors are OSErrors
            print(f"GPT_SoVITS.download: {path}: {exc}\nRun the command again: a file cut off part way resumes "
                  "where it stopped.", file=sys.stderr)
            return 1
        print(f"{done:>8}  {root / path}", flush=True)
    print(f"done: {len(paths)} files under {root}")
    for line in start_hints(args.targets, root):
        print(line)
    return 0


# The flag of api_ms.py (and of GPT_SoVITS.infer) for each weight file, for the hints printed at the end.
FLAGS = {"gpt": "--gpt-path", "sovits": "--sovits-path", "hubert": "--cnhubert-base-path", "bert": "--bert-path",
         "speaker_verifier": "--sv-path"}


def start_hints(targets: list[str], root: Path) -> list[str]:
    """How to start the service on each version fetched, where its files are not the service's defaults."""
    default = root == DEFAULT_DIR.resolve()
    lines = []
    for name in SUPPORTED if ALL in targets else [t for t in targets if t in VERSIONS]:
        places = _released(name)
        if default:  # the shared files and the default version's are where the service looks already
            places = {} if name == DEFAULT_VERSION else {key: places[key] for key in ("gpt", "sovits")}
        flags = " ".join(f"{FLAGS[key]} '{root / place}'" for key, place in places.items())
        lines.append(f"{name}: python api_ms.py {flags}".rstrip())
    return lines


if __name__ == "__main__":
    sys.exit(main())
