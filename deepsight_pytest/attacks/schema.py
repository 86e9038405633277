"""The attack arguments' one schema: ``@pytest.mark.safety_attack(...)``'s keywords and a config
suite's ``attack:`` mapping are checked by the same functions, so both forms accept the same
values and say the same one-line errors (an unknown mutator lists the known ones).

Nothing here builds a guard or loads a model: a ``judge:`` guard's judge is only looked up.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from deepsight_pytest.errors import SpecError
from deepsight_pytest.attacks.mutators import check_chain_length, ordered

ATTACK_KEYS = ("mutators", "max_examples", "max_chain", "guard")


def check_mutators(value: Any) -> list[str]:
    """A mutator name or a non-empty list of them, each registered (kept as given)."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise SpecError(f"mutators must be a mutator name or a non-empty list of them, got {value!r}")
    ordered(names)  # unknown: one line listing the known names
    return list(names)


def check_max_examples(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"max_examples must be a whole number of at least 1, got {value!r}")
    return value


def check_guard(value: Any) -> str:
    """``keywords`` or ``judge:<a registered judge spec>`` (the judge is not built here)."""
    from deepsight_pytest.judges import JUDGES

    if value == "keywords":
        return value
    if isinstance(value, str) and value.startswith("judge:") and value[6:]:
        if value[6:].split(":", 1)[0] not in JUDGES:
            raise SpecError(f"guard {value!r}: {JUDGES.unknown_message(value[6:])}")
        return value
    raise SpecError(f"guard must be 'keywords' or 'judge:<judge spec>', got {value!r}")


#: key -> check returning the value as the search takes it (raises SpecError with one line)
ATTACK_CHECKS: dict[str, Callable[[Any], Any]] = {
    "mutators": check_mutators,
    "max_examples": check_max_examples,
    "max_chain": check_chain_length,
    "guard": check_guard,
}


def check_attack_arg(key: str, value: Any) -> Any:
    if key not in ATTACK_CHECKS:
        raise SpecError(f"unknown attack argument {key!r}; known: {', '.join(ATTACK_KEYS)}")
    return ATTACK_CHECKS[key](value)


def check_attack(args: Mapping[str, Any]) -> dict[str, Any]:
    """Every given argument checked (``None`` means not given)."""
    return {k: check_attack_arg(k, v) for k, v in args.items() if v is not None}
