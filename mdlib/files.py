"""Writing results safely: output paths checked before any work, files written whole or not at all.

Every command and function of mdlib that writes (``reproduce --out``, GIFs, figures, sweeps,
student notebooks) goes through these helpers, so that a bad path fails at once with one line
naming the path and the reason, and a failure while writing (a full disk, a vanished folder)
leaves no half-written file behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path


class OutputError(ValueError):
    """An output path that cannot be written, or a write that failed; the message names both."""


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _probe_folder(folder: Path, path: Path, what: str) -> None:
    """Create and remove a scratch folder in ``folder``: the only test of writability that also
    holds for root, read-only mounts and pseudo file systems such as /proc."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mdlib-probe-", dir=folder))
    except OSError as error:
        raise OutputError(f"{what} {path}: cannot write in {folder} ({error.strerror or error})") from None


def check_output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Check that ``path`` is, or can be created as, a folder this process can write in.

    Nothing is created: a missing folder (and its missing parents) is made only when results are
    written. Raises :class:`OutputError` naming the path and what is wrong.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: exists and is not a folder")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise OutputError(f"{what} {path}: {existing} is a file, not a folder")
    _probe_folder(existing, path, what)
    return path


def check_output_file(path: str | os.PathLike, suffixes: tuple[str, ...] = (), what: str = "output file") -> Path:
    """Check that a file can be written at ``path`` (its folder exists or can be created, and is
    writable; ``path`` itself is not a folder; its suffix is one of ``suffixes`` if given)."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{what} {path}: must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a folder")
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise OutputError(f"{what} {path}: {existing} is a file, not a folder")
    _probe_folder(existing, path, what)
    return path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object], what: str = "file") -> Path:
    """Call ``write(temporary)`` to produce the file, then rename it to ``path``.

    The temporary file sits next to ``path`` (same file system, so the rename is atomic). Any
    failure removes it; an ``OSError`` (for instance a full disk) becomes one :class:`OutputError`
    naming the path and the reason.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        reason = "the disk is full" if error.errno == errno.ENOSPC else (error.strerror or str(error))
        raise OutputError(f"could not write {what} {path}: {reason}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | os.PathLike, text: str, what: str = "file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (see :func:`write_atomically`)."""
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"), what)


class StagedFolder:
    """Files written into a scratch folder first and moved into ``out`` only when all are done.

    Use as a context manager: write the files into :attr:`path`; on a clean exit they move into
    ``out`` (created with its parents if missing); on any error the scratch folder, and any folder
    this made, are removed, so ``out`` is left as it was. The scratch folder sits in the nearest
    existing folder above ``out``, on the same file system, so the moves are renames.
    """

    def __init__(self, out: str | os.PathLike, what: str = "output folder"):
        self.out, self.what = Path(out), what
        check_output_folder(self.out, what)
        #: The scratch folder, while the ``with`` block runs (None before).
        self.path: Path | None = None

    def __enter__(self) -> Path:
        base = _nearest_existing(self.out)
        try:
            self.path = Path(tempfile.mkdtemp(prefix=".mdlib-staging-", dir=base))
        except OSError as error:
            raise OutputError(f"{self.what} {self.out}: cannot write in {base} ({error.strerror})") from None
        return self.path

    def __exit__(self, kind, error, traceback) -> bool:
        created = [p for p in (self.out, *self.out.parents) if not p.exists()]
        try:
            if kind is None:
                try:
                    self.out.mkdir(parents=True, exist_ok=True)
                    for item in sorted(self.path.iterdir()):
                        os.replace(item, self.out / item.name)
                except OSError as failure:
                    for folder in created:
                        if folder.exists() and not any(folder.iterdir()):
                            folder.rmdir()
                    raise OutputError(
                        f"could not write into {self.what} {self.out}: {failure.strerror or failure}"
                    ) from None
            elif isinstance(error, OSError):
                reason = "the disk is full" if error.errno == errno.ENOSPC else (error.strerror or str(error))
                raise OutputError(f"could not write into {self.what} {self.out}: {reason}") from None
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
        return False
