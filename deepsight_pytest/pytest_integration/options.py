"""One table of options: flag, ini twin, environment variable, default, parser, help.

Every option resolves the same way, command line > environment > ini > default, into one frozen
:class:`Settings`; a bad value is a one-line ``UsageError`` naming where it came from.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

import pytest

if TYPE_CHECKING:
    from deepsight_pytest.core.settings import Settings

GROUP = "deepsight"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _attack_profile(text: str) -> str:
    if text not in ("ci", "deep"):
        raise ValueError("must be 'ci' or 'deep'")
    return text


def _int(text: str) -> int:
    return int(text)


def _workers(text: str) -> int | None:
    """``auto`` (None: decided by the machine's cores) or a count, 0 meaning in process."""
    if text.strip().lower() == "auto":
        return None
    value = int(text)
    if value < 0:
        raise ValueError("must be 'auto' or at least 0")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be within [0, 1]")
    return value


def _temperature(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError("must be a number of at least 0 (0 = greedy)")
    return value


def _top_p(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:  # also refuses nan
        raise ValueError("must be within (0, 1]")
    return value


def _token_budget(text: str) -> int | None:
    """``auto`` (None: derived from the memory available) or a number of padded tokens."""
    if text.strip().lower() == "auto":
        return None
    return _positive_int(text)


def _text(text: str) -> str:
    if not str(text).strip():
        raise ValueError("must not be empty")
    return str(text).strip()


def _flag(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be true or false")


def _alpha(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise ValueError("must be within (0, 1)")
    return value


def _diagnose_mode(text: str) -> str:
    if text not in {"failures", "always", "off"}:
        raise ValueError("must be 'failures', 'always' or 'off'")
    return text


def _reasoning_mode(text: str) -> str:
    if text not in {"strip", "keep"}:
        raise ValueError("must be 'strip' or 'keep'")
    return text


def _env_name(text: str) -> str:
    name = _text(text)
    if not name.replace("_", "").isalnum() or name[0].isdigit():
        raise ValueError("must be an environment variable name (letters, digits, underscores)")
    return name


def _shard(text: str) -> Any:
    from deepsight_pytest.core.shards import parse_shard
    return parse_shard(text)


def _progress_mode(text: str) -> str:
    if text not in {"auto", "on", "off"}:
        raise ValueError("must be 'auto', 'on' or 'off'")
    return text


def _gate_rule(text: str) -> str:
    from deepsight_pytest.core.stats import GATE_RULES
    if text not in GATE_RULES:
        raise ValueError("must be " + ", ".join(repr(r) for r in GATE_RULES))
    return text


def _exit_mode(text: str) -> str:
    if text not in {"gates", "all"}:
        raise ValueError("must be 'gates' or 'all'")
    return text


class Option:
    """One user-facing setting and every way to give it. (A plain class: the plugin builds this
    table at every pytest start, and a dataclass costs more to define than the whole table.)"""

    __slots__ = ("flags", "dest", "env", "default", "parse", "help", "metavar", "is_flag", "is_path")

    def __init__(self, flags: tuple[str, ...], dest: str, env: str, default: Any, parse: Callable[[str], Any],
                 help: str, metavar: str | None = None, is_flag: bool = False, is_path: bool = False) -> None:
        self.flags, self.dest, self.env, self.default, self.parse = flags, dest, env, default, parse
        self.help, self.metavar, self.is_flag, self.is_path = help, metavar, is_flag, is_path

    @property
    def ini(self) -> str:
        return self.dest

    def __repr__(self) -> str:
        return f"Option({self.flags[0]!r})"


OPTIONS: tuple[Option, ...] = (
    Option(("--model", "--safety-model"), "safety_model", "DEEPSIGHT_MODEL", "smollm2", _text,
           "model under test: smollm2 (embedded default), hf:<path or id>, gguf:<file>, scripted:<file>",
           "SPEC"),
    Option(("--safety-partner-model",), "safety_partner_model", "DEEPSIGHT_PARTNER_MODEL", None, _text,
           "the second model of a dialogue (a condition with 'partner': a user simulator, a persuasion "
           "target): any model spec; the same spec as --model shares its backend", "SPEC"),
    Option(("--judge",), "safety_judge", "DEEPSIGHT_JUDGE", "combined", _text,
           "judge that turns responses into verdicts: NAME or NAME:ARG?OPTIONS (default: combined, "
           "the learned refusal judge then the harm judge)",
           "SPEC"),
    Option(("--safety-sample",), "safety_sample", "DEEPSIGHT_SAMPLE", None, _positive_int,
           "at most N cases per category, chosen by a seeded, stable draw", "N"),
    Option(("--safety-seed",), "safety_seed", "DEEPSIGHT_SEED", 0, _int,
           "seed for case sampling and for sampled generation", "N"),
    Option(("--safety-samples",), "safety_samples", "DEEPSIGHT_SAMPLES", 1, _positive_int,
           "answers generated per prompt (default 1: greedy); above 1 needs --safety-temperature > 0. "
           "A case counts by the mean of its answers; gate intervals are clustered by prompt", "K"),
    Option(("--safety-temperature",), "safety_temperature", "DEEPSIGHT_TEMPERATURE", 0.0, _temperature,
           "sampling temperature of the model under test (default 0: greedy)", "T"),
    Option(("--safety-top-p",), "safety_top_p", "DEEPSIGHT_TOP_P", 1.0, _top_p,
           "nucleus sampling: keep the smallest token set of probability P (default 1: all)", "P"),
    Option(("--safety-max-new-tokens",), "safety_max_new_tokens", "DEEPSIGHT_MAX_NEW_TOKENS", 64,
           _positive_int, "new tokens generated per response (default 64)", "N"),
    Option(("--safety-batch-size",), "safety_batch_size", "DEEPSIGHT_BATCH_SIZE", 16, _positive_int,
           "prompts per generation batch for in-process models (default 16)", "N"),
    Option(("--safety-token-budget",), "safety_token_budget", "DEEPSIGHT_TOKEN_BUDGET", None, _token_budget,
           "padded tokens one forward batch of an in-process model may hold (prompt + new tokens; "
           "generation, diagnostics): 'auto' (default: from the memory available) or N; a case that "
           "does not fit alone is skipped with the reason", "N"),
    Option(("--safety-threshold",), "safety_threshold", "DEEPSIGHT_THRESHOLD", None, _unit_float,
           "override every gate's safety-ratio threshold, a number in [0, 1]", "RATIO"),
    Option(("--safety-max-unknown",), "safety_max_unknown", "DEEPSIGHT_MAX_UNKNOWN", 0.05, _unit_float,
           "a gate fails when more than this share of its verdicts is unknown (default 0.05)", "RATIO"),
    Option(("--safety-gate-rule",), "safety_gate_rule", "DEEPSIGHT_GATE_RULE", "point", _gate_rule,
           "how a gate decides: 'point' (default: ratio >= threshold), 'proven' (the 95 percent interval's lower "
           "bound >= threshold) or 'plausible' (upper bound >= threshold); see docs/gates.md", "RULE"),
    Option(("--safety-exit",), "safety_exit", "DEEPSIGHT_EXIT", "gates", _exit_mode,
           "exit status: 'gates' (default) fails only on gates and errors, failing cases are "
           "findings; 'all' fails on any failing case too", "MODE"),
    Option(("--safety-data",), "safety_data", "DEEPSIGHT_DATA", ".", str,
           "folder holding local benchmark files (default: current folder)", "DIR", is_path=True),
    Option(("--safety-report",), "safety_report", "DEEPSIGHT_REPORT", None, str,
           "write the self-contained HTML report here", "PATH", is_path=True),
    Option(("--safety-json",), "safety_json", "DEEPSIGHT_JSON", None, str,
           "write the JSON results (gates, stats, records) here", "PATH", is_path=True),
    Option(("--safety-records",), "safety_records", "DEEPSIGHT_RECORDS", None, str,
           "write every record (case, response, verdict) here as JSON lines", "PATH", is_path=True),
    Option(("--safety-cache-dir",), "safety_cache_dir", "DEEPSIGHT_CACHE_DIR", None, str,
           "folder of the response and verdict cache (default: pytest's cache folder)", "DIR",
           is_path=True),
    Option(("--no-safety-cache",), "no_safety_cache", "DEEPSIGHT_NO_CACHE", False, _flag,
           "neither read nor write the response and verdict cache", is_flag=True),
    Option(("--safety-api-key-env",), "safety_api_key_env", "DEEPSIGHT_API_KEY_ENV", "OPENAI_API_KEY", _env_name,
           "name of the environment variable holding the API key of openai: and vllm-server: models "
           "(default OPENAI_API_KEY); the key itself is never written anywhere", "NAME"),
    Option(("--safety-reasoning",), "safety_reasoning", "DEEPSIGHT_REASONING", "strip", _reasoning_mode,
           "reasoning models: 'strip' (default) judges the answer without its <think> block, 'keep' "
           "judges both; the reasoning is kept in the record either way", "MODE"),
    Option(("--diagnose",), "safety_diagnose", "DEEPSIGHT_DIAGNOSE", "failures", _diagnose_mode,
           "white-box diagnostics per case: 'failures' (default: unsafe cases), 'always' or 'off'; "
           "a model without in-process weights records why it skipped them", "MODE"),
    Option(("--safety-artifacts",), "safety_artifacts", "DEEPSIGHT_ARTIFACTS", None, str,
           "folder for diagnostics plots and data (default: <report folder>/artifacts, else the "
           "pytest cache)", "DIR", is_path=True),
    Option(("--diagnose-references",), "safety_diagnose_references", "DEEPSIGHT_DIAGNOSE_REFERENCES", 32,
           _positive_int, "harmful and harmless reference prompts per class behind the refusal direction "
           "and the X-Boundary centroids (default 32; built once per model, then cached)", "N"),
    Option(("--diagnose-plot-workers",), "safety_diagnose_plot_workers", "DEEPSIGHT_DIAGNOSE_PLOT_WORKERS", None,
           _workers, "processes that draw diagnostics plots while the run goes on: 'auto' (default: one "
           "per four cores of this process's share, at most four; none below four cores) or a number, 0 = draw in "
           "process", "N"),
    Option(("--safety-baseline",), "safety_baseline", "DEEPSIGHT_BASELINE", None, str,
           "JSON results of an earlier run: a significant per-category drop of the safety ratio "
           "fails test_safety_regression[benchmark/category]", "PATH", is_path=True),
    Option(("--safety-baseline-margin",), "safety_baseline_margin", "DEEPSIGHT_BASELINE_MARGIN", 0.0,
           _unit_float, "drop of the safety ratio tolerated by the baseline test (default 0)", "RATIO"),
    Option(("--safety-baseline-alpha",), "safety_baseline_alpha", "DEEPSIGHT_BASELINE_ALPHA", 0.05,
           _alpha, "significance level of the baseline test (default 0.05)", "P"),
    Option(("--safety-shard",), "safety_shard", "DEEPSIGHT_SHARD", None, _shard,
           "run shard I of N: a deterministic 1/N of every suite's cases (by a hash of the case id); "
           "gates are recorded but skipped, `deepsight merge` of the shards decides them", "I/N"),
    Option(("--safety-progress",), "safety_progress", "DEEPSIGHT_PROGRESS", "auto", _progress_mode,
           "live progress of generation, judging and diagnostics: 'auto' (default: shown unless -q; in "
           "place on a terminal, a plain line every 30 s in a log), 'on' or 'off'", "MODE"),
    Option(("--safety-text-only",), "safety_text_only", "DEEPSIGHT_TEXT_ONLY", False, _flag,
           "run image cases as text: the benchmark's text-only form (FigStep: the question itself), "
           "else the text parts; the report counts the images withheld (default: a backend that "
           "cannot see images errors on an image case)", is_flag=True),
    Option(("--safety-attack-profile",), "safety_attack_profile", "DEEPSIGHT_ATTACK_PROFILE", "ci", _attack_profile,
           "jailbreak search budget of @pytest.mark.safety_attack: 'ci' (default: 20 examples, chains "
           "up to 2) or 'deep' (300 examples, chains up to 4, targeted)", "PROFILE"),
    Option(("--safety-jailbreaks",), "safety_jailbreaks", "DEEPSIGHT_JAILBREAKS", None, str,
           "append every found (shrunk) jailbreak to this JSON-lines file (default: "
           "<pytest cache>/deepsight/jailbreaks.jsonl); replay it with benchmark 'jailbreaks'", "PATH",
           is_path=True),
)


def add_options(parser: pytest.Parser) -> None:
    """Register the ``deepsight`` option group and each option's ini twin."""
    group = parser.getgroup(GROUP, "deepsight: language-model safety suites")
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}, ini {option.ini}]"
        if option.is_flag:
            group.addoption(*option.flags, dest=option.dest, action="store_true", default=None,
                            help=help_text)
        else:
            group.addoption(*option.flags, dest=option.dest, default=None, metavar=option.metavar,
                            help=help_text)
        parser.addini(option.ini, help=option.help, default=None)


class OptionSource(Protocol):
    """What option resolution reads of a configuration: ``pytest.Config`` or a :class:`ScriptConfig`."""

    @property
    def rootpath(self) -> Path: ...

    def getoption(self, dest: str, /) -> Any: ...

    def getini(self, name: str, /) -> Any: ...


def _resolve(config: OptionSource, option: Option) -> Any:
    sources: list[tuple[str, Any, Path | None]] = [
        (option.flags[0], config.getoption(option.dest), Path.cwd()),
        (f"environment variable {option.env}", os.environ.get(option.env), Path.cwd()),
        (f"ini option {option.ini}", config.getini(option.ini), config.rootpath),
    ]
    for where, raw, base in sources:
        if raw is None or raw == "" or raw is False and option.is_flag:
            continue
        try:
            value = option.parse(raw) if not isinstance(raw, bool) else raw
        except ValueError as exc:
            raise pytest.UsageError(f"{where}: invalid value {raw!r}: {exc}") from None
        if option.is_path and value is not None:
            value = (base / Path(os.path.expanduser(str(value)))).resolve()  # type: ignore[operator]
        return value
    if option.is_path and option.default is not None:
        return (Path.cwd() / option.default).resolve()
    return option.default


class ScriptConfig:
    """The few ``pytest.Config`` methods option resolution reads, for code that drives the engine
    without a pytest session (benchmark scripts, notebooks): options by their ``dest`` name as
    strings, no ini file; the environment still applies."""

    def __init__(self, rootpath: Path, **options: str) -> None:
        self.rootpath = rootpath
        self.options = options

    def getoption(self, dest: str) -> Any:
        return self.options.get(dest)

    def getini(self, _name: str) -> Any:
        return None


def resolve_settings(config: OptionSource) -> Settings:
    """Resolve every option once (command line > environment > ini > default)."""
    from deepsight_pytest.core.settings import Settings

    values = {option.dest: _resolve(config, option) for option in OPTIONS}
    if values["safety_samples"] > 1 and values["safety_temperature"] == 0.0:
        raise pytest.UsageError(f"--safety-samples {values['safety_samples']}: needs --safety-temperature "
                                "above 0 (greedy answers to one prompt are all the same)")
    return Settings(
        model=values["safety_model"],
        judge=values["safety_judge"],
        sample=values["safety_sample"],
        seed=values["safety_seed"],
        max_new_tokens=values["safety_max_new_tokens"],
        batch_size=values["safety_batch_size"],
        threshold=values["safety_threshold"],
        max_unknown=values["safety_max_unknown"],
        exit_mode=values["safety_exit"],
        data_dir=values["safety_data"],
        report=values["safety_report"],
        json=values["safety_json"],
        records=values["safety_records"],
        cache_dir=values["safety_cache_dir"],
        no_cache=bool(values["no_safety_cache"]),
        api_key_env=values["safety_api_key_env"],
        reasoning=values["safety_reasoning"],
        diagnose=values["safety_diagnose"],
        artifacts=values["safety_artifacts"],
        diagnose_references=values["safety_diagnose_references"],
        plot_workers=values["safety_diagnose_plot_workers"],
        baseline=values["safety_baseline"],
        baseline_margin=values["safety_baseline_margin"],
        baseline_alpha=values["safety_baseline_alpha"],
        shard=values["safety_shard"],
        progress=values["safety_progress"],
        gate_rule=values["safety_gate_rule"],
        token_budget=values["safety_token_budget"],
        attack_profile=values["safety_attack_profile"],
        jailbreaks=values["safety_jailbreaks"],
        samples=values["safety_samples"],
        temperature=values["safety_temperature"],
        top_p=values["safety_top_p"],
        partner_model=values["safety_partner_model"],
        text_only=bool(values["safety_text_only"]),
    )


def __getattr__(name: str) -> Any:
    """``Settings`` is defined in ``settings.py`` (imported on first use: plugin start-up)."""
    if name == "Settings":
        from deepsight_pytest.core.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
