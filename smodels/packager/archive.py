"""Deterministic zip archives and size accounting.

Same inputs give byte-identical zips: entries sorted by name, one fixed timestamp (1980-01-01), fixed modes
(0o755 for executables, 0o644 otherwise), no directory entries, fixed compression level.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from smodels.manifest import sha256_file

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6


def iter_files(root: Path, prefix: str = "") -> list[tuple[str, Path]]:
    """(archive name, file path) for every file under `root`, archive names prefixed with `prefix`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() and not path.exists():
                continue
            rel = path.relative_to(root).as_posix()
            out.append((prefix + rel, path))
    return out


def write_zip(dest: Path, entries: Iterable[tuple[str, Path | bytes]]) -> str:
    """Write a deterministic zip of `entries` (archive name -> file path or bytes); return its sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    items = sorted(entries, key=lambda e: e[0])
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"duplicate archive entries: {dup[:5]}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for name, source in items:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr carries the mode
            if isinstance(source, bytes):
                data, executable = source, False
            else:
                data = source.read_bytes()
                executable = bool(source.stat().st_mode & 0o111)
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    os.replace(tmp, dest)
    return sha256_file(dest)


def unzipped_size(path: Path) -> int:
    """Sum of the uncompressed sizes of a zip's entries (Lambda's unzipped figure)."""
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())


def dist_name_version(dist_info: Path) -> tuple[str, str]:
    """(name, version) of a `<name>-<version>.dist-info` directory."""
    stem = dist_info.name.removesuffix(".dist-info")
    name, _, version = stem.rpartition("-")
    return name, version


def distribution_sizes(site: Path) -> dict[str, int]:
    """Bytes per installed distribution under `site`, by its RECORD; files no RECORD names count by top dir."""
    owner: dict[str, str] = {}
    top_owner: dict[str, str] = {}
    for dist_info in site.glob("*.dist-info"):
        name = dist_name_version(dist_info)[0]
        record = dist_info / "RECORD"
        if record.is_file():
            for line in record.read_text(errors="replace").splitlines():
                rel = line.split(",", 1)[0]
                if rel and not rel.startswith(".."):
                    owner[os.path.normpath(rel)] = name
                    top_owner.setdefault(rel.split("/", 1)[0], name)
    sizes: dict[str, int] = {}
    for rel, path in iter_files(site):
        first = rel.split("/", 1)[0]
        name = owner.get(os.path.normpath(rel)) or top_owner.get(first) or first
        if name.endswith(".dist-info"):
            name = dist_name_version(Path(name))[0]
        sizes[name] = sizes.get(name, 0) + path.stat().st_size
    return sizes


def top(sizes: dict[str, int], n: int = 5) -> tuple[tuple[str, int], ...]:
    """The `n` biggest entries, biggest first (ties by name, for stable output)."""
    return tuple(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def tree_size(root: Path) -> int:
    """Total bytes of the files under `root`."""
    return sum(p.stat().st_size for _, p in iter_files(root))
