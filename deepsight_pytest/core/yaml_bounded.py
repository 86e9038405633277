"""YAML for files a user (or an attacker) hands the plugin: aliases expanded within a bound.

PyYAML composes aliases by reference, so a "billion laughs" file is small in memory until
something walks it, and a recursive alias (``&a [*a]``) makes a node that contains itself. Any
walk over such a tree (validation, ``json.dumps``, a rule loop) hangs or dies of a
``RecursionError``. :func:`check_nodes` walks the composed node graph once, counting every node
as often as aliases repeat it, and refuses the file when the count passes :data:`MAX_NODES` or a
node contains itself, naming ``file:line``. ``yaml`` is imported lazily: the plugin starts
without it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepsight_pytest.errors import DeepSightError

if TYPE_CHECKING:
    import yaml

#: Nodes after alias expansion: far above any real suite or script file (a few hundred), far
#: below what makes a walk slow (a billion-laughs file reaches it within milliseconds).
MAX_NODES = 100_000
MAX_DEPTH = 200  # nesting deeper than this is no config: refused before Python's recursion limit


class YamlBombError(DeepSightError):
    """A YAML file whose aliases expand past the bound, or refer to themselves."""


def check_nodes(node: "yaml.Node", path: Path | str) -> int:
    """The expanded node count of ``node``; :class:`YamlBombError` past the bounds."""
    import yaml

    count = 0
    on_path: set[int] = set()  # collections being walked: meeting one again is recursion
    stack: list[tuple[yaml.Node, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, leaving = stack.pop()
        if leaving:
            on_path.discard(id(current))
            continue
        count += 1
        line = current.start_mark.line + 1
        if count > MAX_NODES:
            raise YamlBombError(f"{path}:{line}: refused: aliases expand to more than {MAX_NODES:,} "
                                f"values (an alias bomb?)")
        if depth > MAX_DEPTH:
            raise YamlBombError(f"{path}:{line}: refused: nested deeper than {MAX_DEPTH} levels")
        if isinstance(current, yaml.ScalarNode):
            continue
        if id(current) in on_path:
            raise YamlBombError(f"{path}:{line}: refused: a recursive alias (a value that contains itself)")
        on_path.add(id(current))
        stack.append((current, depth, True))
        if isinstance(current, yaml.MappingNode):
            children = [n for pair in current.value for n in pair]
        else:
            children = list(current.value)
        stack.extend((child, depth + 1, False) for child in reversed(children))
    return count


def compose(text: str, path: Path | str) -> "yaml.Node | None":
    """The checked node tree of ``text`` (None for an empty document); YAML errors propagate."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except RecursionError:  # PyYAML's composer recurses per nesting level
        mark = loader.get_mark() if hasattr(loader, "get_mark") else None
        line = mark.line + 1 if mark is not None else 1
        raise YamlBombError(f"{path}:{line}: refused: nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    if node is not None:
        check_nodes(node, path)
    return node


def load(text: str, path: Path | str) -> Any:
    """``yaml.safe_load`` of ``text`` after the alias checks (for files read whole)."""
    import yaml

    node = compose(text, path)
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()
