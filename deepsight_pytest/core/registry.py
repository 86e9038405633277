"""One generic registry for benchmarks, models, judges, mutators and diagnostics.

Entries may be objects or lazy ``"module:attr"`` strings, so registering a backend never
imports torch; an unknown name is answered with the known names and the closest match.

Third-party distributions add entries the way pytest finds ``pytest11`` plugins: an entry point
in the registry's group (``deepsight.benchmarks``, ``deepsight.models``, ``deepsight.judges``,
``deepsight.mutators``, ``deepsight.diagnostics``) whose value is the ``module:attr`` target::

    [project.entry-points."deepsight.benchmarks"]
    my-bench = "my_package.bench:MY_BENCH"

Entry points are read on the first lookup (not at import) and their targets imported only when
used; ``DEEPSIGHT_DISABLE_PLUGINS=1`` turns every third-party entry off.
"""
from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Callable, Generic, Iterator, TypeVar

from deepsight_pytest.errors import SpecError

T = TypeVar("T")

#: set to 1/true/yes to ignore every registry entry point (third-party plugins)
DISABLE_PLUGINS_ENV = "DEEPSIGHT_DISABLE_PLUGINS"
#: where a built-in entry comes from
BUILTIN = "deepsight-pytest (built-in)"


def plugins_disabled() -> bool:
    """True when ``DEEPSIGHT_DISABLE_PLUGINS`` asks to ignore third-party entries."""
    return os.environ.get(DISABLE_PLUGINS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered name, its one-line help, its target (object or ``module:attr``) and origin."""

    name: str
    help: str
    target: object
    origin: str = BUILTIN


def origin_of(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    where = f"{dist.name} {dist.version}" if dist is not None else "an unnamed distribution"
    return f"{where} (entry point {point.group})"


def _one_line(obj: object) -> str:
    """A target's own one-line description: its ``description``/``help`` field, else its docstring."""
    for field in ("description", "help"):
        value = getattr(obj, field, None)
        if isinstance(value, str) and value.strip():
            return value.strip().split("\n")[0]
    return (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]


class Registry(Generic[T]):
    """Name -> entry, with duplicate rejection, lazy targets, typo suggestions and entry points.

    ``group`` names the entry-point group read on first lookup; ``check`` tells whether a loaded
    target is acceptable (so a plugin of the wrong kind fails naming its distribution)."""

    def __init__(self, kind: str, group: str | None = None,
                 check: Callable[[object], bool] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._check = check
        self._entries: dict[str, Entry[T]] = {}
        self._plugins_read = group is None

    def add(self, name: str, target: object, help: str = "", *, replace: bool = False,
            origin: str = BUILTIN) -> None:
        """Register ``target`` (an object or a ``"module:attr"`` string) under ``name``."""
        old = self._entries.get(name)
        if old is not None and not replace and old.target is not target:
            raise SpecError(f"{self.kind} {name!r} is registered twice: by {old.origin} and by {origin}")
        self._entries[name] = Entry(name, help, target, origin)

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(obj: T) -> T:
            self.add(name, obj, help or _one_line(obj))
            return obj

        return decorate

    def _read_plugins(self) -> None:
        """Add the group's entry points once, unless third-party plugins are switched off."""
        if self._plugins_read:
            return
        self._plugins_read = True
        if plugins_disabled() or self.group is None:
            return
        for point in entry_points(group=self.group):
            self.add(point.name, point.value, "", origin=origin_of(point))

    def _all(self) -> dict[str, Entry[T]]:
        self._read_plugins()
        return self._entries

    def names(self) -> list[str]:
        return sorted(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._all().values(), key=lambda e: e.name))

    def builtin(self) -> list[Entry[T]]:
        """The entries registered in code, without reading entry points (safe at import time)."""
        return sorted((e for e in self._entries.values() if e.origin == BUILTIN), key=lambda e: e.name)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._all()[name]
        except KeyError:
            raise SpecError(self.unknown_message(name)) from None

    def get(self, name: str) -> T:
        """The registered object, importing a lazy target on first use."""
        entry = self.entry(name)
        target = entry.target
        if isinstance(target, str) and ":" in target:
            target = self._load(entry, target)
            self._entries[name] = Entry(name, entry.help, target, entry.origin)
        return target  # type: ignore[return-value]

    def _load(self, entry: Entry[T], target: str) -> object:
        module_name, attr = target.split(":", 1)
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            if entry.origin == BUILTIN:
                raise
            raise SpecError(f"{self.kind} {entry.name!r} from {entry.origin}: cannot load "
                            f"{target!r} ({exc})") from None
        if self._check is not None and not self._check(obj):
            raise SpecError(f"{self.kind} {entry.name!r} from {entry.origin}: {target!r} is not a "
                            f"{self.kind} ({type(obj).__name__})")
        return obj

    def describe(self, name: str) -> str:
        """The entry's one-line help; a plugin's comes from its target (imported for this)."""
        entry = self.entry(name)
        return entry.help or _one_line(self.get(name))

    def unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        plugins = f" (plugins add more through the {self.group!r} entry points)" if self.group else ""
        return f"unknown {self.kind} {name!r}{hint}; known: {', '.join(names)}{plugins}"
