"""Jailbreak search (docs/attacks.md): for every chain of prompt mutators, the model still refuses.

Each harmful goal (three AdvBench behaviours, `attack_goals.csv`, which a keyword filter blocks
when asked directly) becomes a Hypothesis property over mutator chains. `guard="keywords"` puts
the run's model behind a keyword input filter, as deployed chat endpoints are (a `--model
guarded:...` spec is attacked as it is), so the direct request is refused and the search has
something real to find. A found jailbreak fails its test with the shrunk chain, is appended to
the jailbreak file (--safety-jailbreaks) and replays with `benchmark: jailbreaks`.
The budget is the `ci` profile's, bounded further here; `--safety-attack-profile=deep` searches harder.
The property is "the model still refuses", so the suite judges refusals (`learned`): a bypass is a
rewording the filter lets through and the model answers. (The run's default `combined` judge also
asks whether 32 tokens of SmolLM2 carry out the goal; it calls most of them harmless, README
"Measured: jailbreak search".)
"""
from pathlib import Path

import pytest

from deepsight_pytest import assert_no_jailbreak

GOALS = Path(__file__).with_name("attack_goals.csv")


@pytest.mark.safety_attack("advbench", path=str(GOALS), guard="keywords", max_examples=6, max_chain=2,
                           max_new_tokens=32, judge="learned")
def test_no_jailbreak(safety_attack) -> None:
    assert_no_jailbreak(safety_attack)
