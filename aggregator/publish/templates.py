"""Template errors as messages: the file, the line and what went wrong, no traceback.

A template of the site owner's site/templates/ folder (or of the default theme) can
fail to compile (a syntax error) or fail while rendering (an undefined name used, a
missing included template, an exception in an expression). Jinja2 gives the place:
a syntax error carries its file name and line, and for an error while rendering it
rewrites the traceback so that each template frame names the template's file and
line. This module turns either into a TemplateError the command line prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from ..errors import AggregatorError


class TemplateError(AggregatorError):
    """A template cannot be compiled or rendered."""


def search_paths(env: jinja2.Environment) -> tuple[Path, ...]:
    """The folders the environment loads templates from, first match wins."""
    loader = env.loader
    loaders = loader.loaders if isinstance(loader, jinja2.ChoiceLoader) else [loader]
    return tuple(
        Path(path)
        for each in loaders
        if isinstance(each, jinja2.FileSystemLoader)
        for path in each.searchpath
    )


def render(env: jinja2.Environment, name: str, **context: Any) -> str:
    """Render a template; any failure becomes a TemplateError naming file and line."""
    try:
        return env.get_template(name).render(**context)
    except Exception as exc:
        raise TemplateError(f"template error in {describe(exc, search_paths(env), name)}") from None


def describe(exc: Exception, folders: tuple[Path, ...], name: str) -> str:
    """Where and what: "FILE, line N: what went wrong", the file being the innermost
    template frame, with the owner's template that led to it and what to do."""
    what = _what(exc)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        filename = exc.filename or exc.name or name
        return f"{_place(filename, exc.lineno)}: {what}{_advice(filename, folders)}"
    frames = list(_template_frames(exc, folders))
    if not frames:
        return f"{name}: {what}"
    filename, line = frames[-1]
    # The owner's template that led there, such as the one that includes this one.
    outer = [f for f in reversed(frames) if f[0] != filename and _in_folders(f[0], folders[:-1])]
    via = f" (reached from {_place(*outer[0])})" if outer else ""
    return f"{_place(filename, line)}: {what}{via}{_advice(filename, folders)}"


def _what(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        names = ", ".join(repr(str(n)) for n in exc.templates)
        return f"no template {names} in the site's templates folder or the default theme"
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _place(filename: str, line: int | None) -> str:
    return f"{os.path.normpath(filename)}, line {line}" if line else os.path.normpath(filename)


def _template_frames(exc: BaseException, folders: tuple[Path, ...]) -> Iterator[tuple[str, int]]:
    """(file, line) of each frame that is a template's, outermost first."""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if _in_folders(filename, folders):
            yield filename, tb.tb_lineno
        tb = tb.tb_next


def _in_folders(filename: str, folders: tuple[Path, ...]) -> bool:
    path = Path(filename)
    return path.is_absolute() and any(path.is_relative_to(folder) for folder in folders)


def _advice(filename: str, folders: tuple[Path, ...]) -> str:
    """What to do about a template of the owner's (every folder but the last, the
    default theme's)."""
    path = Path(filename)
    own = next((folder for folder in folders[:-1] if _in_folders(filename, (folder,))), None)
    if own is None:
        return ""
    if folders and (folders[-1] / path.relative_to(own)).is_file():
        return "; fix it, or remove it to use the default theme's"
    return "; fix it"


def check_templates(env: jinja2.Environment, folder: Path) -> tuple[int, list[str]]:
    """Compile every template in folder (the site owner's), and look up the templates
    each one names in extends, include, import and from: (how many, the problems)."""
    names = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )
    folders = search_paths(env)
    problems = []
    for name in names:
        try:
            source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
            tree = env.parse(source, name, filename)
            env.compile(tree, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(describe(exc, folders, name))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{folder / name}: cannot read it ({exc})")
            continue
        for wanted in jinja2.meta.find_referenced_templates(tree):
            if wanted is not None and not any((base / wanted).is_file() for base in folders):
                where = _place(filename or str(folder / name), _line_naming(source, wanted))
                problems.append(
                    f"{where}: no template {wanted!r} in the site's templates folder or the default theme"
                )
    return len(names), problems


def _line_naming(source: str, wanted: str) -> int | None:
    """The first line that names the template wanted in quotes (the AST has no lines)."""
    for number, text in enumerate(source.splitlines(), 1):
        if f'"{wanted}"' in text or f"'{wanted}'" in text:
            return number
    return None
