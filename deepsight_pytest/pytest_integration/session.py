"""Per-session state kept in ``config.stash``: resolved settings and the (lazy) engine."""
from __future__ import annotations

import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from deepsight_pytest.diagnostics.trigger import deepscan_factory
from deepsight_pytest.core.engine import Engine
from deepsight_pytest.errors import DeepSightError
from deepsight_pytest.judges import parse_judge_spec
from deepsight_pytest.models import ModelContext, check_model_spec, create_model
from deepsight_pytest.pytest_integration.options import Settings, resolve_settings
from deepsight_pytest.core.store import RecordStore


@dataclass
class DeepSightSession:
    settings: Settings
    engine: Engine


STATE_KEY = pytest.StashKey[DeepSightSession]()
STORE_FILE = "records.sqlite"


def store_path(config: pytest.Config, settings: Settings) -> Path | None:
    """Where the record store lives: ``--safety-cache-dir`` or pytest's cache folder."""
    if settings.no_cache:
        return None
    if settings.cache_dir is not None:
        return settings.cache_dir / STORE_FILE
    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return config.rootpath / ".deepsight_cache" / STORE_FILE
    return Path(cache.mkdir("deepsight")) / STORE_FILE


def open_store(path: Path | None) -> RecordStore:
    """The store, or an in-memory stand-in with a warning when the folder is unwritable."""
    try:
        return RecordStore(path)
    except (OSError, sqlite3.Error) as exc:  # an unusable cache is a warning, never fatal
        warnings.warn(pytest.PytestWarning(f"deepsight: cache {path} unusable ({exc}); running uncached"))
        return RecordStore(None)


def start_session(config: pytest.Config) -> DeepSightSession:
    """Resolve settings and check names (cheap: no model is loaded here)."""
    settings = resolve_settings(config)
    checks = [("--model", check_model_spec, settings.model), ("--judge", parse_judge_spec, settings.judge)]
    if settings.partner_model is not None:
        checks.append(("--safety-partner-model", check_model_spec, settings.partner_model))
    for option, check, value in checks:
        try:
            check(value)
        except DeepSightError as exc:
            raise pytest.UsageError(f"{option}: {exc}") from None
    path = store_path(config, settings)
    context = ModelContext(api_key_env=settings.api_key_env, shared_dir=lambda: _run_folder(config))
    partner = settings.partner_model
    engine = Engine(settings, lambda: open_store(path), lambda: create_model(settings.model, context),
                    deepscan_factory(config, settings, path),
                    partner_factory=None if partner is None else lambda: create_model(partner, context))
    state = DeepSightSession(settings, engine)
    config.stash[STATE_KEY] = state
    return state


def _run_folder(config: pytest.Config) -> Path:
    from deepsight_pytest.models.vllm_server import run_folder  # vllm-server: only when that model asks for it

    return run_folder(config)


def get_session(config: pytest.Config) -> DeepSightSession:
    return config.stash[STATE_KEY]
