"""The resolved settings of a session (``options.resolve_settings`` builds them). A module of its
own so that the plugin's start-up, which needs only the option table, does not define it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Every deepsight setting, resolved once per session."""

    model: str
    judge: str
    sample: int | None
    seed: int
    max_new_tokens: int
    batch_size: int
    threshold: float | None
    max_unknown: float
    exit_mode: str
    data_dir: Path
    report: Path | None
    json: Path | None
    records: Path | None
    cache_dir: Path | None
    no_cache: bool
    api_key_env: str
    reasoning: str
    diagnose: str
    artifacts: Path | None
    diagnose_references: int
    plot_workers: int | None
    baseline: Path | None
    baseline_margin: float
    baseline_alpha: float
    shard: Any = None  # shards.Shard of --safety-shard, None for a whole run
    progress: str = "auto"
    gate_rule: str = "point"
    token_budget: int | None = None
    attack_profile: str = "ci"
    jailbreaks: Path | None = None
    samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    partner_model: str | None = None
    text_only: bool = False  # --safety-text-only: image cases run as text (images.as_text_only)
