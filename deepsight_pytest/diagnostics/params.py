"""A DeepScan method's parameters: defaults from the registry, the given ones checked, data sets parsed.

Apart from :mod:`.datasets` because it reads the package's registry (``DIAGNOSTICS``), which
imports ``datasets`` for ``DataSpec``; here neither imports the other back.
"""
from __future__ import annotations

from typing import Any, Mapping

from deepsight_pytest.errors import ConfigError
from deepsight_pytest.diagnostics import DIAGNOSTICS
from deepsight_pytest.diagnostics.datasets import DEFAULT_SETS, DataSpec


def method_params(method: str, given: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """A method's parameters: its defaults, the given ones (checked), its data sets parsed."""
    spec = DIAGNOSTICS.get(method)
    if spec.kind != "method":
        raise ConfigError(f"{where}{method!r} is a per-case diagnostic, not a method")
    unknown = set(given) - set(spec.defaults)
    if unknown:
        raise ConfigError(f"{where}{method} got unknown parameter(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(spec.defaults))}")
    params = {**spec.defaults, **given}
    classes = dict(DEFAULT_SETS[method])
    given_sets = params["sets"] or {}
    if not isinstance(given_sets, Mapping):
        raise ConfigError(f"{where}{method}: sets= takes a dict of class name -> data set, got {given_sets!r}")
    extra = set(given_sets) - set(classes)
    if extra:
        raise ConfigError(f"{where}{method} has no class(es) {', '.join(sorted(extra))}; classes: {', '.join(classes)}")
    classes.update({name: DataSpec.parse(value, f"{where}{method} set {name!r}") for name, value in given_sets.items()})
    params["sets"] = classes
    if not isinstance(params["n"], int) or params["n"] < 2:
        raise ConfigError(f"{where}{method}: n must be an integer of at least 2, got {params['n']!r}")
    return params
