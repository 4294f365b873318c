"""A zip of training data: one `.list` (`path|speaker|language|text`, the reference's format) and its clips.

An archive is hostile until read: nothing is extracted by the names it carries. The `.list` names each
clip by a path relative to the archive (or to the `.list`'s folder); that path is normalised, and one that
is absolute or climbs out (`..`) is refused; the member is then looked up by that exact name and read
into memory with a byte cap, whatever size its header claims (a zip bomb stops at the cap). Encrypted
members, too many members, a member or a whole archive decompressing past the limits are refused.
"""
from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass

from GPT_SoVITS.training.prepare.errors import ClipError
from GPT_SoVITS.training.prepare.listfile import parse_line

from ..envelope import BAD_PARAM, ApiError

MAX_LIST_BYTES = 1 << 20  # a .list of a few hundred lines is a few tens of KB


@dataclass(frozen=True)
class ArchivedClip:
    name: str  # the clip's path inside the archive
    data: bytes
    text: str
    language: str  # the .list's label (ZH, JA, EN, ...)


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int  # files in the archive (folders not counted)
    max_member_bytes: int  # one file, decompressed
    max_total_bytes: int  # every file read, decompressed


def _refuse(message: str, data: dict | None = None) -> ApiError:
    return ApiError(BAD_PARAM, message, data=data)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The member's bytes, never more than `cap` of them decompressed (its header may lie)."""
    if info.flag_bits & 0x1:
        raise _refuse(f"压缩包中的文件已加密：{info.filename}")
    if info.file_size > cap:
        raise _refuse(f"压缩包中的文件过大：{info.filename}（上限 {cap / 1048576:g} MB）")
    with archive.open(info) as stream:
        data = stream.read(cap + 1)
    if len(data) > cap:
        raise _refuse(f"压缩包中的文件过大：{info.filename}（上限 {cap / 1048576:g} MB）")
    return data


def member_name(raw: str) -> str | None:
    """A .list path, normalised as an archive member's name; None for one that is absolute or climbs out."""
    path = raw.strip().replace("\\", "/")
    if not path or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return None
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        return None
    return normal


def read_archive(data: bytes, limits: ArchiveLimits) -> list[ArchivedClip]:
    """Every clip of the archive's .list with its transcript; ApiError naming what is wrong (all the bad
    lines at once, in `data.errors`)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _refuse("archive 不是有效的 zip 压缩包") from None
    if len(infos) > limits.max_members:
        raise _refuse(f"压缩包中的文件过多：{len(infos)} 个，上限 {limits.max_members} 个")
    lists = [info for info in infos if info.filename.lower().endswith(".list")
             and not posixpath.basename(info.filename).startswith(".")]
    if len(lists) != 1:
        raise _refuse(f"压缩包中应有且只有一个 .list 文件（找到 {len(lists)} 个）")
    try:
        text = _read(archive, lists[0], MAX_LIST_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(".list 文件不是 UTF-8 文本") from None
    members = {info.filename: info for info in infos}
    folder = posixpath.dirname(lists[0].filename)
    clips, errors, total = [], [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = parse_line(line, number)
        except ClipError as exc:
            errors.append({"clip": exc.clip, "message": str(exc)})
            continue
        raw = line.split("|", 1)[0]
        # relative to the archive, else to the .list's folder
        candidates = [name for name in (member_name(raw),) if name is not None]
        if candidates and folder:
            candidates.append(posixpath.normpath(posixpath.join(folder, candidates[0])))
        found = next((members[name] for name in candidates if name in members), None)
        if found is None:
            reason = "路径不合法（不能是绝对路径或 ..）" if not candidates else "压缩包中没有这个文件"
            errors.append({"clip": raw.strip(), "message": f"第 {number} 行：{reason}：{raw.strip()}"})
            continue
        data_bytes = _read(archive, found, limits.max_member_bytes)
        total += len(data_bytes)
        if total > limits.max_total_bytes:
            raise _refuse(f"压缩包解压后过大（上限 {limits.max_total_bytes / 1048576:g} MB）")
        clips.append(ArchivedClip(found.filename, data_bytes, entry.text, line.split("|")[2]))
    if errors:
        raise _refuse(f"{len(errors)} 行无法使用：" + "；".join(e["message"] for e in errors[:3]), {"errors": errors})
    if not clips:
        raise _refuse(".list 中没有片段")
    return clips
