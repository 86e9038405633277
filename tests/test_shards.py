"""``--safety-shard=I/N``: disjoint shards that cover every case, gates decided by ``deepsight merge``.

Inner sessions use the scripted backend (plumbing, not model safety).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_sessions import Project, output, run_cli
from test_cli import gate_view, json_of

from deepsight_pytest.core.shards import Shard, parse_shard


def test_shards_are_disjoint_and_cover_every_uid_whatever_the_order() -> None:
    uids = [f"bench/cat{i % 7}/{i}" for i in range(1000)]
    shards = [Shard(i, 4) for i in range(1, 5)]
    picked = [set(s.select(uids, uid_of=str)) for s in shards]
    assert sum(map(len, picked)) == len(uids) and set().union(*picked) == set(uids)
    assert all(150 < len(p) < 350 for p in picked)  # a hash spread, not one shard holding all
    assert set(shards[1].select(reversed(uids), uid_of=str)) == picked[1]  # order does not matter
    assert set(shards[1].select(uids[::3], uid_of=str)) == picked[1] & set(uids[::3])  # nor the sample


@pytest.mark.parametrize("text, needle", [("2/4", None), ("1/1", None), ("0/4", "1 <= I <= N"),
                                          ("5/4", "1 <= I <= N"), ("2", "must be I/N"), ("a/b", "must be I/N"),
                                          ("1/0", "1 <= I <= N")])
def test_parse_shard(text: str, needle: str | None) -> None:
    if needle is None:
        assert str(parse_shard(text)) == text
    else:
        with pytest.raises(ValueError, match=needle):
            parse_shard(text)


def test_scripted_bad_shard_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = Project.create(tmp_path).run("--safety-shard=3/2")
    assert result.returncode == 4, output(result)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == ["ERROR: --safety-shard: invalid value '3/2': must be I/N with 1 <= I <= N, "
                      "e.g. 2/4; got shard 3 of 2"], output(result)


def test_scripted_three_shards_merge_to_the_unsharded_run(tmp_path: Path) -> None:
    project = Project.create(tmp_path)
    full = project.run("--safety-json=full.json")
    assert full.returncode == 1, output(full)  # the whole run fails gates
    seen: list[set[str]] = []
    for i in (1, 2, 3):
        shard = project.run(f"--safety-shard={i}/3", f"--safety-json=s{i}.json", f"--junitxml=s{i}.xml", "-rs")
        assert shard.returncode == 0, output(shard)  # partial gates never fail a shard
        document = json_of(tmp_path / f"s{i}.json")
        seen.append({c["nodeid"] for c in document["cases"]})
        assert document["gates"] and all(g["outcome"] == "skipped" for g in document["gates"])
        assert f"shard {i}/3: partial gate" in shard.stdout
    whole = json_of(tmp_path / "full.json")
    assert sum(map(len, seen)) == len(whole["cases"]) and set().union(*seen) == {c["nodeid"] for c in whole["cases"]}
    merged = run_cli("merge", "s1.json", "s2.json", "s3.json", "-o", "merged.json", "--fail-on-gate", cwd=tmp_path)
    assert merged.returncode == 1, output(merged)  # merge decides, and the gates fail as in the whole run
    joined = json_of(tmp_path / "merged.json")
    view = {k: v[:-1] for k, v in gate_view(joined).items()}  # the outcome column: merge's own wording
    assert view == {k: v[:-1] for k, v in gate_view(whole).items()}
    assert {c["nodeid"]: c["record"] for c in joined["cases"]} == {c["nodeid"]: c["record"] for c in whole["cases"]}
    assert json.loads(json.dumps(joined["categories"])) == whole["categories"]
