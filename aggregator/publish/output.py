"""Writing a built site: into a fresh folder, then swapped in whole.

A web server (or rsync) reading the output folder never sees half a build: the new site
is written beside it and the two folders are exchanged in one step. A file whose bytes
did not change is not rewritten: the new tree gets a hard link to the old file, so it
keeps its modification time and rsync and CDNs see only what really changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AggregatorError


class OutputError(AggregatorError):
    """The output folder cannot be written or swapped."""


@dataclass
class SiteWriter:
    out: Path  # the live folder
    written: list[str] = field(default_factory=list)  # new or changed files
    kept: int = 0  # unchanged files, linked from the live folder
    _tmp: Path | None = None
    # The folders of the new tree made so far: a site has thousands of files in hundreds
    # of folders, and a mkdir that finds its folder there costs a system call and an
    # exception each time (0.6 s of a 1.5 s rebuild).
    _folders: set[Path] = field(default_factory=set)

    def __enter__(self) -> SiteWriter:
        if self.out.exists() and not self.out.is_dir():
            # The swap would put the site in its place and move the file aside.
            raise OutputError(
                f"{self.out} is a file, not a folder; point site.output (or --out) at a folder "
                "for the site. The file is unchanged"
            )
        parent = self.out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._clear_leftovers()
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.build-", dir=parent))
        except OSError as exc:
            raise OutputError(f"{parent}: cannot create the build folder ({exc}); check the path") from exc
        return self

    def _clear_leftovers(self) -> None:
        """Remove what builds killed half-way left beside the site: their build folders,
        and an old site set aside by a swap without an atomic exchange. (A build runs
        under the run lock: no other build is writing them.)"""
        for pattern in (f".{self.out.name}.build-*", f".{self.out.name}.old-*"):
            for left in self.out.parent.glob(pattern):
                if left.is_dir() and not left.is_symlink():
                    shutil.rmtree(left, ignore_errors=True)

    def write(self, relative: str, data: str | bytes) -> None:
        assert self._tmp is not None
        content = data.encode("utf-8") if isinstance(data, str) else data
        target = self._tmp / relative
        live = self.out / relative
        try:
            self._folder(target.parent)
            try:
                if live.is_file() and live.stat().st_size == len(content) and live.read_bytes() == content:
                    os.link(live, target)
                    self.kept += 1
                    return
            except OSError:
                pass  # not linkable (another file system?): write it
            target.write_bytes(content)
        except OSError as exc:  # a full disk, a quota: the build stops, the live site stays
            raise OutputError(
                f"{self.out.parent}: cannot write the new site's {relative} ({exc.strerror or exc}); "
                "the live site is unchanged"
            ) from exc
        self.written.append(relative)

    def keep(self, relative: str) -> bool:
        """Carry a file of the live site over unchanged (a hard link); False if it is not there."""
        assert self._tmp is not None
        live, target = self.out / relative, self._tmp / relative
        try:
            self._folder(target.parent)
            os.link(live, target)
        except OSError:
            return False
        self.kept += 1
        return True

    def _folder(self, folder: Path) -> None:
        """Make a folder of the new tree (and its parents), once."""
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)

    def keep_tree(self, relative: str) -> bool:
        """keep() every file under a folder of the live site; False if it is not there."""
        base = self.out / relative
        if not base.is_dir():
            return False
        return all(
            self.keep(p.relative_to(self.out).as_posix()) for p in sorted(base.rglob("*")) if p.is_file()
        )

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        assert self._tmp is not None
        if exc is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        os.chmod(self._tmp, 0o755)  # mkdtemp makes it private; a web server must read it
        try:
            swap(self._tmp, self.out)
        except OSError as error:
            shutil.rmtree(self._tmp, ignore_errors=True)
            if error.errno == errno.EBUSY or os.path.ismount(self.out):
                raise OutputError(
                    f"{self.out}: cannot put the new site in place: the folder is a mount point (a "
                    "volume or a separate file system), which cannot be exchanged for another "
                    "folder; build into a folder inside it (site.output: "
                    f"{self.out / 'public'}) and serve that. The live site is unchanged."
                ) from error
            raise OutputError(f"{self.out}: cannot put the new site in place ({error})") from error
        shutil.rmtree(self._tmp, ignore_errors=True)  # now the old site


def swap(new: Path, live: Path) -> None:
    """Put folder new where live is, in one step when the system allows; new then holds
    the old site (or nothing)."""
    if not live.exists():
        os.rename(new, live)
        new.mkdir()
        return
    if _exchange(new, live):
        return
    # No atomic exchange here: two renames, with a moment where live is missing.
    aside = live.with_name(f".{live.name}.old-{os.getpid()}")
    os.rename(live, aside)
    os.rename(new, live)
    os.rename(aside, new)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE) on Linux: both names stay valid throughout."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))
