"""The database file itself: is the file at the configured path ours, and a safe copy of it.

A file left empty by a failed copy or a full disk, an HTML error page saved under the
database's name, or another program's SQLite file must never be taken for a new
database: migrating it would publish an empty site over a live one. So an existing
file is opened only after it is shown to be an aggregator database, and it is looked
at without writing to it (nor beside it, where that can be helped). Only a path where
no file exists gets a new database (store.py creates it).

With store.py, the only module that runs SQL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import AggregatorError, DatabaseError

SQLITE_MAGIC = b"SQLite format 3\x00"
SMALLEST_DATABASE = 512  # the smallest page size: an SQLite file with a header is at least this long
MIGRATIONS_TABLE = "_sqlite_migrations"  # where sqlite-utils records the migrations applied
OUR_TABLES = ("feeds", "posts")  # made by the first migration, kept by every later one
# Where the owner is sent for a damaged database, and only for one (see advice()).
RECOVERY = "see docs/operations.md, 'Backups and recovery'"
WHAT_TO_DO = (
    f"nothing was changed; restore it from a backup ({RECOVERY}), "
    "or move it away so a new database is created"
)


@dataclass(frozen=True)
class FileSchema:
    """What an SQLite file holds, as far as telling ours from others goes."""

    tables: tuple[str, ...]
    migrations: tuple[str, ...]  # the migrations of our set recorded as applied


@dataclass(frozen=True)
class BackupReport:
    source: Path
    path: Path
    size: int
    posts: int


def is_new_database(path: Path, migration_set: str, known: Collection[str] | None = None) -> bool:
    """True when no file is at `path`, so a new database may be made there; False when an
    aggregator database (of this or any earlier version) is.

    Anything else raises DatabaseError naming the file and what to do, and is left as it
    was: the file is only read. With `known` (the migrations this version has), so is a
    database a newer version has migrated further: this version would write rows
    without what the newer schema expects of them, which the newer one would never fix.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot read it ({exc.strerror})") from exc
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file; point --db or 'database:' at a file")
    _refuse_unless_sqlite(path, size)
    schema = _read_schema(path, migration_set)
    missing = [t for t in OUR_TABLES if t not in schema.tables]
    newer = [name for name in schema.migrations if known is not None and name not in known]
    if newer:
        raise DatabaseError(
            f"{path} was made or migrated by a newer version of the aggregator (its schema has "
            f"{', '.join(newer)}, which this version does not know); nothing was changed. Run "
            f"the newer version, or restore a backup made before the upgrade ({RECOVERY})"
        )
    if schema.migrations and not missing:
        return False
    if not schema.tables:
        what = "an SQLite database with no tables at all (so not one the aggregator made)"
    elif not schema.migrations:
        shown = ", ".join(schema.tables[:8]) + (", ..." if len(schema.tables) > 8 else "")
        what = f"another program's SQLite database (its tables: {shown}), not the aggregator's"
    else:
        what = f"an aggregator database that has lost its {', '.join(missing)} table(s)"
    raise DatabaseError(f"{path} is {what}; {WHAT_TO_DO}")


def _refuse_unless_sqlite(path: Path, size: int) -> None:
    if size == 0:
        raise DatabaseError(
            f"{path} is empty (0 bytes), as a failed copy or a full disk leaves a file, so it is "
            f"not taken for a new database; {WHAT_TO_DO}"
        )
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot read it ({exc.strerror})") from exc
    if head != SQLITE_MAGIC:
        raise DatabaseError(f"{path} is not an SQLite database (it starts with {head!r}); {WHAT_TO_DO}")
    if size < SMALLEST_DATABASE:
        raise DatabaseError(f"{path} is a truncated SQLite file ({size} bytes); {WHAT_TO_DO}")


def _read_schema(path: Path, migration_set: str) -> FileSchema:
    try:
        with contextlib.closing(_read_only(path)) as conn:
            tables = tuple(
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            )
            applied: tuple[str, ...] = ()
            if MIGRATIONS_TABLE in tables:
                applied = tuple(
                    r[0]
                    for r in conn.execute(
                        f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid",
                        [migration_set],
                    )
                )
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"{path} cannot be read as an SQLite database ({exc}); it was not changed. If it is the "
            f"aggregator's, recover it with sqlite3's .recover or restore a backup ({RECOVERY})"
        ) from exc
    return FileSchema(tables, applied)


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that writes nothing, and makes no -wal or -shm file where none is.

    With no -wal file beside it, everything committed is in the file itself, and
    `immutable` reads it without locks or side files. With one, a live writer may have
    commits only in the WAL, which a plain read-only connection sees.
    """
    uri = path.resolve().as_uri()
    if Path(f"{path}-wal").exists():
        return sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30)
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)


# -- backup -------------------------------------------------------------------


def backup_database(source: Path, dest: Path, migration_set: str, *, force: bool = False) -> BackupReport:
    """Copy the aggregator database `source` to `dest`, consistently even while a run
    writes to it, check the copy, and only then put it at `dest`.

    SQLite's online backup API copies the pages in one step, inside one read
    transaction: the copy is the database as of one commit, and in WAL mode writers go
    on meanwhile. (Copying in several steps would start over each time another
    connection commits, so it might never end under a busy run; VACUUM INTO would make
    a compact copy but rebuild every table and index on the way, which costs far more
    CPU on a large database.) The copy is written beside `dest` and renamed into
    place, so `dest` is never a half-written file.
    """
    if is_new_database(source, migration_set):
        raise DatabaseError(f"{source} does not exist; there is nothing to back up")
    _check_destination(source, dest, force)
    _discard_stale_partials(dest)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        _copy(source, partial)
        posts = _verify(source, partial)
        _fsync(partial)
        _put_in_place(partial, dest, force)
        _fsync(dest.parent)
    except OSError as exc:
        raise AggregatorError(
            f"cannot write the backup {dest}: {exc.strerror or exc}; check that its folder is "
            "writable and has room for a copy of the database"
        ) from exc
    finally:
        _discard(partial)
    return BackupReport(source, dest, dest.stat().st_size, posts)


def _discard_stale_partials(dest: Path) -> None:
    """Remove the partial copies of dest that killed backups left (SIGKILL, a power cut):
    each is named with its process id, and one whose process is gone is nobody's."""
    prefix = f".{dest.name}."
    for path in dest.parent.glob(f"{glob.escape(prefix)}*.partial"):
        pid = path.name[len(prefix) : -len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            _discard(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process: not ours to judge
    return True


def _check_destination(source: Path, dest: Path, force: bool) -> None:
    folder = dest.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise AggregatorError(f"cannot write the backup {dest}: {folder} {what}; create the folder first")
    if dest.is_dir():
        raise AggregatorError(
            f"{dest} is a folder; give the backup a file name, such as {dest / source.name}"
        )
    if dest.exists() and dest.resolve() == source.resolve():
        raise AggregatorError(f"{dest} is the database itself; give the backup another name")
    if dest.exists() and not force:
        raise AggregatorError(f"{dest} already exists; choose another name, or pass --force to replace it")
    busy = [p for p in _with_side_files(dest)[1:3] if p.exists()]
    if busy:
        raise AggregatorError(
            f"{busy[0]} exists: something has {dest} open, or left that file behind; "
            "stop it (or remove the file) before replacing the backup"
        )


def _copy(source: Path, partial: Path) -> None:
    _discard(partial)  # from an earlier attempt of this same pid
    with _sqlite_errors(source, partial), contextlib.ExitStack() as stack:
        src = stack.enter_context(contextlib.closing(sqlite3.connect(source, timeout=30)))
        dst = stack.enter_context(contextlib.closing(sqlite3.connect(partial)))
        src.backup(dst)  # pages=-1: every page in one step, one read transaction


def _verify(source: Path, partial: Path) -> int:
    """Check the copy; return how many posts it holds."""
    with _sqlite_errors(source, partial), contextlib.closing(sqlite3.connect(partial)) as conn:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise DatabaseError(
                f"{source} is damaged: its copy fails the integrity check ({'; '.join(problems)}); "
                f"no backup was written; {RECOVERY}"
            )
        return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])


@contextlib.contextmanager
def _sqlite_errors(source: Path, partial: Path) -> Iterator[None]:
    """SQLite's errors as ours: a damaged source is a database error (exit 3), anything
    else is about writing the copy (a full disk, a folder that is not writable)."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            raise DatabaseError(
                f"{source} is damaged ({exc}), and so would be a copy: no backup was written; {RECOVERY}"
            ) from exc
        raise OSError(f"{exc} (writing {partial})") from exc


def _put_in_place(partial: Path, dest: Path, force: bool) -> None:
    if force:
        os.replace(partial, dest)
        return
    try:
        os.link(partial, dest)  # fails, rather than replace, if dest appeared meanwhile
    except FileExistsError:
        raise AggregatorError(f"{dest} appeared while the backup was made; it was left as it is") from None
    except OSError:  # a file system without hard links
        if dest.exists():
            raise
        os.replace(partial, dest)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(path: Path) -> None:
    """Remove a file made here, and SQLite's files beside it, where there are any."""
    for leftover in _with_side_files(path):
        with contextlib.suppress(OSError):  # missing, or a read-only folder that holds none
            leftover.unlink()


def _with_side_files(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")]


def advice(exc: sqlite3.Error) -> str:
    """What to do about an SQLite error, by its kind: only damage sends the owner to the
    backups; a lock, a read-only file or a full disk has a simpler fix."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "another program holds the database (a sqlite3 shell, a copy tool); close it and run again"
    if name.startswith("SQLITE_READONLY"):
        return (
            "it cannot be written: make the file, its -wal and -shm files and its folder writable "
            "by the user the runs go as"
        )
    if name.startswith("SQLITE_FULL"):
        return "the disk is full: free space and run again"
    if name.startswith("SQLITE_CANTOPEN"):
        return "it cannot be opened: check that its folder exists and is writable by the user the runs go as"
    if name.startswith("SQLITE_IOERR"):
        return f"the disk reported an error: check it (dmesg), then {RECOVERY}"
    return RECOVERY
