"""A .list -> the prepared folder (`GPT_SoVITS.training.prepared`), clip by clip, skipping the clips
already prepared (same source file, transcript, language and speaker, for the same version), so an
interrupted preparation goes on where it stopped. The index is rewritten after each clip."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..prepared import ClipRecord, clip_file, read_index, write_clip, write_index
from .errors import ClipError
from .features import PrepModels, prepare_clip
from .listfile import ListEntry


@dataclass
class PrepareReport:
    prepared: list[str] = field(default_factory=list)  # clips prepared by this run
    reused: list[str] = field(default_factory=list)  # clips already prepared, left as they were
    errors: list[ClipError] = field(default_factory=list)  # clips that cannot be used, each naming why


def is_prepared(root: Path, record: ClipRecord | None, entry: ListEntry) -> bool:
    return (record is not None and clip_file(root, entry.name).exists()
            and (record.source, record.text, record.language, record.speaker)
            == (str(Path(entry.path).resolve()), entry.text, entry.language, entry.speaker))


def prepare_dataset(entries: list[ListEntry], root: str | Path, version: str, models: Callable[[], PrepModels],
                    progress: Callable[[Iterable[ListEntry]], Iterable[ListEntry]] = iter) -> PrepareReport:
    """Prepare every entry into `root`; `models` is called once, only when a clip needs preparing."""
    root = Path(root)
    old_version, old = read_index(root)
    if old_version != version:
        old = {}  # features of another version (symbol table, speaker embedding) are not reused
    report = PrepareReport()
    records: list[ClipRecord] = []
    loaded: PrepModels | None = None
    for entry in progress(entries):
        if is_prepared(root, old.get(entry.name), entry):
            records.append(old[entry.name])
            report.reused.append(entry.name)
            continue
        loaded = loaded or models()
        try:
            record, arrays = prepare_clip(loaded, entry)
        except ClipError as exc:
            report.errors.append(exc)
            continue
        write_clip(root, entry.name, arrays)
        records.append(record)
        report.prepared.append(entry.name)
        write_index(root, version, records)
    write_index(root, version, records)
    return report
