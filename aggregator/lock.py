"""One run at a time per database: an advisory lock the kernel drops when the process dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from .errors import DatabaseError, LockHeld


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder(database: str) -> str | None:
    """The pid written in the database's run lock file: the run holding the lock, or one
    killed while it held it (the file keeps its pid, the kernel drops the lock)."""
    try:
        return Path(f"{database}.lock").read_text(encoding="ascii", errors="replace").strip() or None
    except OSError:
        return None


class RunLock:
    """Exclusive, non-blocking lock on `<database>.lock`; SIGKILL releases it."""

    def __init__(self, database: str) -> None:
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DatabaseError(
                f"cannot make the run lock {self.path}: {exc.strerror}; the database's folder "
                "must exist or be creatable, and be writable"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(
                f"another aggregator run (pid {holder}) is working on this database "
                f"({self.path}); this run exits and leaves it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
