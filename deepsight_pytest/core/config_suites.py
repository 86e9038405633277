"""Suites as configuration: ``deepsight.yaml`` or ``[tool.deepsight]`` in ``pyproject.toml``.

The file is read into a tree that remembers the line of every key, validated, and turned into
the same ``safety_suite`` arguments a Python test module would write, so both forms give the same
tests, ids, plans and cache entries. Every error names ``file:line``.

Schema (YAML; TOML is the same under ``[tool.deepsight]`` with ``[[tool.deepsight.suites]]``)::

    defaults:            # optional, applied to every suite (a suite's own keys win)
      sample: 5
    suites:
      - benchmark: xstest          # required: a registered benchmark
        name: over_refusal         # optional: the test class name (default: the benchmark)
        subset: [safe, unsafe]     # a subset or a list of them
        sample: 10                 # cases per category (seeded, stratified draw)
        seed: 0
        judge: refusal
        max_new_tokens: 64         # generation setting
        threshold: 0.8             # default gate threshold of this suite
        thresholds: {contrast_privacy: 0.95}   # per category
        hub: true                  # or a dataset id / saved folder: read through datasets
        conditions:                # ask every item under each (ids case-id@name); or names of
          - {name: none}           #   the benchmark's own conditions (default: all of them)
          - {name: audited, system: "This conversation is audited."}
        gaps: [audited-vs-none]    # gap gates test_condition_gap[benchmark/audited-vs-none]
        max_gap: 0.1               # how far audited's and none's safety rates may differ
        min_score: 0.1             # conditions with a target (sandbagging): the least mean
                                   #   |target - accuracy| (test_target_accuracy)
        attack:                    # a jailbreak search instead (docs/attacks.md): the suite's
          mutators: [roleplay, base64]   #   class holds test_no_jailbreak, one per harmful case,
          max_examples: 20               #   as @pytest.mark.safety_attack(...) with these keys
          max_chain: 2
          guard: keywords
        judge_view: every-turn     # multi-turn cases: last (default), every-turn or conversation
"""
from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from deepsight_pytest.attacks.schema import ATTACK_KEYS, check_attack_arg
from deepsight_pytest.benchmarks import BENCHMARKS
from deepsight_pytest.core.conditions import Condition
from deepsight_pytest.errors import ConfigError, DeepSightError
from deepsight_pytest.core.judge_views import VIEWS
from deepsight_pytest.pytest_integration.markers import YAML_NAMES, declares_suites  # noqa: F401  (declares_suites: re-exported)
from deepsight_pytest.judges import JUDGES
from deepsight_pytest.core.yaml_bounded import compose

if TYPE_CHECKING:
    import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TOP_KEYS = ("defaults", "suites", "version")
SUITE_KEYS = ("benchmark", "name", "subset", "sample", "seed", "judge", "max_new_tokens",
              "threshold", "thresholds", "hub", "path", "conditions", "gaps", "max_gap", "min_score",
              "attack", "judge_view")
NOT_DEFAULTS = ("benchmark", "name", "attack")  # an attack changes which tests a suite holds
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+\-]*$")


@dataclass(frozen=True)
class Located:
    """A value from a config file with the line it starts on (and its children's lines)."""

    value: Any
    line: int
    children: dict[str, "Located"] | list["Located"] | None = None


@dataclass(frozen=True)
class ConfigSuite:
    """One suite from a config file: the arguments of its ``safety_suite`` mark, and where."""

    name: str
    benchmark: str
    kwargs: dict[str, Any] = field(compare=False)
    path: Path
    line: int
    attack: dict[str, Any] | None = field(default=None, compare=False)  # safety_attack keywords

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


# -- reading files into located trees -------------------------------------------------------------
def read_yaml(path: Path) -> Located:
    import yaml  # here, not at import: the plugin loads in every pytest run

    text = _read(path)
    loader = yaml.SafeLoader("")  # constructs scalars and keys of the checked node tree
    try:
        node = compose(text, path)  # alias bombs, recursive aliases, deep nesting: refused first
        if node is None:
            raise ConfigError(f"{path}:1: empty file; expected a mapping with a 'suites' list")
        return _from_node(node, loader, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{line}: invalid YAML ({problem})") from None
    finally:
        loader.dispose()


def _from_node(node: yaml.Node, loader: yaml.SafeLoader, path: Path) -> Located:
    import yaml

    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        children: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise ConfigError(f"{path}:{key_line}: keys must be text, got {key!r}")
            if key in children:
                raise ConfigError(f"{path}:{key_line}: duplicate key {key!r} "
                                  f"(first at line {children[key].line})")
            child = _from_node(value_node, loader, path)
            children[key] = Located(child.value, key_line, child.children)
        return Located({k: c.value for k, c in children.items()}, line, children)
    if isinstance(node, yaml.SequenceNode):
        items = [_from_node(item, loader, path) for item in node.value]
        return Located([item.value for item in items], line, items)
    return Located(loader.construct_object(node, deep=True), line)


def read_pyproject(path: Path) -> Located | None:
    """The ``[tool.deepsight]`` table with approximate lines, or None when there is none."""
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    table = data.get("tool", {}).get("deepsight")
    if table is None:
        return None
    return _TomlLines(text.splitlines()).locate(table)


class _TomlLines:
    """Lines of keys in ``[tool.deepsight]``: tomllib keeps no positions, so they are found in
    the text (suite headers exactly, keys within their block, else the block's first line)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def _find(self, pattern: str, start: int = 0, stop: int | None = None) -> list[int]:
        regex = re.compile(pattern)
        stop = len(self.lines) if stop is None else stop
        return [i for i in range(start, stop) if regex.match(self.lines[i])]

    def _block_end(self, start: int) -> int:
        later = self._find(r"^\s*\[", start + 1)
        return later[0] if later else len(self.lines)

    def _mapping(self, value: Any, start: int, stop: int, fallback: int) -> Located:
        if not isinstance(value, dict):
            return Located(value, fallback)
        children = {}
        for key, item in value.items():
            found = self._find(rf"^\s*(\"{re.escape(key)}\"|{re.escape(key)})\s*=", start, stop)
            line = found[0] + 1 if found else fallback
            children[key] = (self._mapping(item, start, stop, line) if isinstance(item, dict)
                             else Located(item, line))
        return Located(value, fallback, children)

    def locate(self, table: dict[str, Any]) -> Located:
        head = self._find(r"^\s*\[\s*tool\.deepsight\s*\]")
        top = head[0] if head else (self._find(r".*tool\.deepsight") or [0])[0]
        root = self._mapping({k: v for k, v in table.items() if k != "suites"}, top,
                             self._block_end(top), top + 1)
        children = dict(root.children) if isinstance(root.children, dict) else {}
        defaults_head = self._find(r"^\s*\[\s*tool\.deepsight\.defaults\s*\]")
        if "defaults" in table and defaults_head:
            start = defaults_head[0]
            children["defaults"] = self._mapping(table["defaults"], start, self._block_end(start), start + 1)
        if "suites" in table:
            children["suites"] = self._suites(table["suites"], top)
        return Located(table, top + 1, children)

    def _suites(self, suites: Any, top: int) -> Located:
        heads = self._find(r"^\s*\[\[\s*tool\.deepsight\.suites\s*\]\]")
        inline = self._find(r"^\s*suites\s*=", top)
        fallback = (heads[0] if heads else inline[0] if inline else top) + 1
        if not isinstance(suites, list):
            return Located(suites, fallback)
        items = []
        for index, suite in enumerate(suites):
            if index < len(heads):
                start = heads[index]
                items.append(self._mapping(suite, start, self._block_end(start), start + 1))
            else:
                items.append(self._mapping(suite, fallback - 1, fallback, fallback))
        return Located(suites, fallback, items)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


# -- validation -----------------------------------------------------------------------------------
def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; known: {', '.join(known)}"


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_ratio(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


#: key -> (check, what the value must be)
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "benchmark": (_is_text, "a benchmark name"),
    "name": (lambda v: isinstance(v, str) and bool(NAME.match(v)),
             "a name of letters, digits, '_', '-', '.' or '+'"),
    "subset": (lambda v: _is_text(v) or (isinstance(v, list) and bool(v) and all(map(_is_text, v))),
               "a subset name or a list of them"),
    "sample": (_is_count, "a whole number of at least 1"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "judge": (_is_text, "a judge name"),
    "max_new_tokens": (_is_count, "a whole number of at least 1"),
    "threshold": (_is_ratio, "a number in [0, 1]"),
    "thresholds": (lambda v: isinstance(v, dict), "a mapping of category to threshold"),
    "hub": (lambda v: isinstance(v, bool) or _is_text(v), "true, false, or a dataset id or folder"),
    "path": (_is_text, "a file path (relative: to this file's folder)"),
    "conditions": (lambda v: _is_text(v) or (isinstance(v, list) and bool(v)
                                             and all(_is_text(i) or isinstance(i, dict) for i in v)),
                   "a condition name or a list of names and mappings (name, system, prefix, target, history, followups, variant, partner, partner_turns)"),
    "gaps": (lambda v: _is_text(v) or (isinstance(v, list) and all(
        _is_text(i) or (isinstance(i, list) and len(i) == 2 and all(map(_is_text, i))) for i in v)),
             "'a-vs-b' or a list of them"),
    "max_gap": (_is_ratio, "a number in [0, 1]"),
    "min_score": (_is_ratio, "a number in [0, 1]"),
    "attack": (lambda v: isinstance(v, dict),
               f"a mapping of {', '.join(ATTACK_KEYS)} (an empty one: the profile's search)"),
    "judge_view": (lambda v: isinstance(v, str) and v in VIEWS, f"one of {', '.join(VIEWS)}"),
}


class _Suite:
    """Validates one suite's merged keys (defaults first, then the suite's own)."""

    def __init__(self, path: Path, line: int, keys: dict[str, Located]) -> None:
        self.path, self.line, self.keys = path, line, keys

    def fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(f"{self.path}:{line}: {message}")

    def build(self, base_dir: Path) -> ConfigSuite:
        for key, item in self.keys.items():
            if key not in SUITE_KEYS:
                raise self.fail(item.line, _unknown_key(key, SUITE_KEYS))
            check, what = CHECKS[key]
            if not check(item.value):
                raise self.fail(item.line, f"{key} must be {what}, got {item.value!r}")
        if "benchmark" not in self.keys:
            raise self.fail(self.line, "suite has no 'benchmark'")
        benchmark = self._benchmark()
        kwargs = {k: item.value for k, item in self.keys.items() if k not in ("benchmark", "name", "attack")}
        self._check_subsets(benchmark, kwargs.get("subset"))
        self._check_thresholds()
        self._check_judge()
        self._check_conditions()
        attack = self._attack()
        if isinstance(kwargs.get("hub"), str) and kwargs["hub"].startswith((".", "~", "/")):
            kwargs["hub"] = str((base_dir / Path(kwargs["hub"]).expanduser()).resolve())
        if "path" in kwargs:  # e.g. benchmark: jailbreaks, path: jailbreaks.jsonl
            kwargs["path"] = str((base_dir / Path(kwargs["path"]).expanduser()).resolve())
        if kwargs.get("hub") is False:
            del kwargs["hub"]
        name = self.keys["name"].value if "name" in self.keys else benchmark
        return ConfigSuite(name, benchmark, kwargs, self.path, self.line, attack)

    def _attack(self) -> dict[str, Any] | None:
        """The ``attack:`` keys checked by the mark's own schema (attacks/schema.py), each error at
        its own line."""
        item = self.keys.get("attack")
        if item is None:
            return None
        children = item.children if isinstance(item.children, dict) else {}
        checked = {}
        for key, value in item.value.items():
            line = children[key].line if key in children else item.line
            if key not in ATTACK_KEYS:
                raise self.fail(line, "attack: " + _unknown_key(key, ATTACK_KEYS))
            try:
                checked[key] = check_attack_arg(key, value)
            except DeepSightError as exc:
                raise self.fail(line, f"attack: {exc}") from None
        return checked

    def _benchmark(self) -> str:
        item = self.keys["benchmark"]
        try:
            BENCHMARKS.entry(item.value)
        except DeepSightError as exc:
            raise self.fail(item.line, str(exc)) from None
        return str(item.value)  # a registered name

    def _check_subsets(self, benchmark: str, subset: Any) -> None:
        if subset is None:
            return
        known = BENCHMARKS.get(benchmark).subsets
        for name in [subset] if isinstance(subset, str) else subset:
            if name not in known:
                choices = ", ".join(known) or "none (this benchmark has no subsets)"
                raise self.fail(self.keys["subset"].line,
                                f"unknown subset {name!r} of {benchmark}; known: {choices}")

    def _check_thresholds(self) -> None:
        item = self.keys.get("thresholds")
        if item is None:
            return
        children = item.children if isinstance(item.children, dict) else {}
        for category, value in item.value.items():
            line = children[category].line if category in children else item.line
            if not _is_text(category) or not _is_ratio(value):
                raise self.fail(line, f"threshold for {category!r} must be a number in [0, 1], "
                                      f"got {value!r}")

    def _check_conditions(self) -> None:
        """Each declared condition checked now, so a mistake names its own line."""
        item = self.keys.get("conditions")
        if item is None or not isinstance(item.value, list):
            return
        for index, value in enumerate(item.value):
            children = item.children if isinstance(item.children, list) else []
            line = children[index].line if index < len(children) else item.line
            if isinstance(value, dict):
                try:
                    Condition.parse(value, "condition")
                except DeepSightError as exc:
                    raise self.fail(line, str(exc).removeprefix("condition: ")) from None

    def _check_judge(self) -> None:
        item = self.keys.get("judge")
        if item is not None and item.value.split(":", 1)[0] not in JUDGES:
            raise self.fail(item.line, JUDGES.unknown_message(item.value))


def _mapping(item: Located, path: Path, what: str) -> dict[str, Located]:
    if not isinstance(item.children, dict):
        raise ConfigError(f"{path}:{item.line}: {what} must be a mapping, got {item.value!r}")
    return item.children


def suites_from(root: Located, path: Path) -> list[ConfigSuite]:
    """The validated suites of one file's tree."""
    top = _mapping(root, path, "the file")
    for key, item in top.items():
        if key not in TOP_KEYS:
            raise ConfigError(f"{path}:{item.line}: {_unknown_key(key, TOP_KEYS)}")
    defaults = _mapping(top["defaults"], path, "defaults") if "defaults" in top else {}
    for key in NOT_DEFAULTS:
        if key in defaults:
            raise ConfigError(f"{path}:{defaults[key].line}: {key!r} cannot be a default")
    if "suites" not in top:
        raise ConfigError(f"{path}:{root.line}: no 'suites' list")
    listing = top["suites"]
    if not isinstance(listing.children, list) or not listing.children:
        raise ConfigError(f"{path}:{listing.line}: 'suites' must be a non-empty list")
    suites: list[ConfigSuite] = []
    for entry in listing.children:
        keys = {**defaults, **_mapping(entry, path, "a suite")}
        suite = _Suite(path, entry.line, keys).build(path.parent)
        clash = next((s for s in suites if s.name == suite.name), None)
        if clash is not None:
            raise ConfigError(f"{suite.where}: two suites named {suite.name!r} (the other at line "
                              f"{clash.line}); give each a distinct 'name'")
        suites.append(suite)
    return suites


def load_suites(path: Path) -> list[ConfigSuite]:
    """The suites declared in a ``deepsight.yaml`` or a ``pyproject.toml`` (none if it has no
    ``[tool.deepsight]`` table)."""
    if path.name == "pyproject.toml":
        root = read_pyproject(path)  # [tool.deepsight] without 'suites' declares nothing
        return [] if root is None or "suites" not in root.value else suites_from(root, path)
    return suites_from(read_yaml(path), path)


