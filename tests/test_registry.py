"""The generic registry: lazy targets, duplicates, suggestions; and every built-in entry loads."""
import pytest

from deepsight_pytest.benchmarks import BENCHMARKS, Benchmark
from deepsight_pytest.errors import SpecError
from deepsight_pytest.judges import JUDGES, Judge
from deepsight_pytest.models import MODELS, parse_model_spec
from deepsight_pytest.core.registry import Registry


def test_lazy_target_imported_on_first_get():
    registry = Registry("thing")
    registry.add("path", "os.path:join")
    import os.path

    assert registry.get("path") is os.path.join


def test_duplicate_name_rejected():
    registry = Registry("thing")
    registry.add("a", "os:sep")
    with pytest.raises(SpecError, match="registered twice"):
        registry.add("a", "os:linesep")


def test_unknown_name_lists_known_and_suggests():
    registry = Registry("model")
    for name in ("smollm2", "hf", "gguf"):
        registry.add(name, object())
    with pytest.raises(SpecError) as info:
        registry.entry("smolm2")
    assert "did you mean 'smollm2'" in str(info.value)
    assert "known: gguf, hf, smollm2" in str(info.value)


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_every_benchmark_entry_has_metadata(name):
    benchmark = BENCHMARKS.get(name)
    assert isinstance(benchmark, Benchmark) and benchmark.name == name
    assert benchmark.description and benchmark.version and benchmark.files
    assert 0.0 <= benchmark.default_threshold <= 1.0
    assert set(benchmark.default_subsets) <= set(benchmark.subsets)


@pytest.mark.parametrize("name", JUDGES.names())
def test_every_judge_entry_is_a_judge(name):
    judge_class = JUDGES.get(name)
    assert issubclass(judge_class, Judge) and judge_class.id == name and judge_class.version


def test_model_specs_parse_without_loading_anything():
    spec = parse_model_spec("hf:org/name?dtype=bfloat16")
    assert (spec.name, spec.arg, spec.options) == ("hf", "org/name", {"dtype": "bfloat16"})
    assert parse_model_spec("smollm2").arg == ""
    with pytest.raises(SpecError, match="known: gemma3-270m, gguf, guarded, hf, hf-vlm, openai, scripted, smollm2, vllm, vllm-server"):
        parse_model_spec("llama:7b")
    assert set(MODELS.names()) >= {"smollm2", "hf", "gguf"}


def test_frontier_benchmarks_declare_conditions_and_gaps_between_them():
    conditioned = [n for n in BENCHMARKS.names() if BENCHMARKS.get(n).conditions is not None]
    assert set(conditioned) >= {"evaluation-faking", "evaluation-faking-sample", "sandbagging", "sandbagging-sample",
                                "uncontrolled-aird", "uncontrolled-aird-sample", "mask", "mask-sample",
                                "mm-safetybench", "mm-safetybench-sample", "mssbench", "mssbench-sample",
                                "deception", "deception-sample", "fake-alignment", "fake-alignment-sample"}
    for name in conditioned:
        benchmark = BENCHMARKS.get(name)
        names = [c.name for c in benchmark.conditions(0)]
        assert len(names) == len(set(names)), name
        assert all(a in names and b in names and a != b for a, b in benchmark.gaps), name
        compare = benchmark.compare
        assert compare is None or compare.names <= set(names), name
        assert benchmark.gaps or compare or all(c.target is not None for c in benchmark.conditions(0)), name


def test_multimodal_benchmarks_keep_their_upstream_metric_and_conditions():
    metrics = {"mm-safetybench": "attack_success_rate", "mssbench": "safety_ratio", "mossbench": "over_refusal_rate",
               "vlsbench": "safety_ratio", "siuo": "safety_ratio"}
    for name, metric in metrics.items():
        for entry in (name, f"{name}-sample"):
            benchmark = BENCHMARKS.get(entry)
            assert benchmark.metric == metric and benchmark.bundled == entry.endswith("-sample"), entry
    for entry in ("mm-safetybench", "mm-safetybench-sample"):
        benchmark = BENCHMARKS.get(entry)
        assert [c.name for c in benchmark.conditions(0)] == ["text_only", "typo", "sd", "sd_typo"]
        assert benchmark.gaps == (("typo", "text_only"), ("sd", "text_only"), ("sd_typo", "text_only"))
    for entry in ("mssbench", "mssbench-sample"):
        benchmark = BENCHMARKS.get(entry)
        assert [c.name for c in benchmark.conditions(0)] == ["safe", "unsafe"] and benchmark.gaps == (("safe", "unsafe"),)
