"""What a judge sees of a multi-turn case: the last answer, every answer, or the whole dialogue.

A scripted or partner conversation (``Case.followups``, ``Response.turns``) can go wrong before
its last turn: an escalating attack may get its harmful part in turn 2 and a refusal in turn 4.
The suite's ``judge_view`` says how the judge reads such a case:

* ``last`` (default): the last answer, with the last user turn as the prompt;
* ``every-turn``: each answer is judged on its own, with its own user turn as the prompt and the
  conversation before it as the case's messages; the case's verdict is the worst of them (any
  unsafe turn makes it unsafe, else any unknown makes it unknown), as upstream uncontrolled-aird
  scores every assistant turn and calls the dialogue unsafe when one is;
* ``conversation``: one judgement of the whole dialogue: the prompt the judge reads is the
  transcript of every turn before the last answer (``User: ...`` / ``Assistant: ...``), so a
  judge that reads the prompt (``llm:`` rubrics, guard models, the harm judge) sees the context.

A single-turn case reads the same under every view (and keeps its verdict cache key).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from deepsight_pytest.core.images import TEXT_ONLY_META, as_text_only, content_text, images_of, text_part
from deepsight_pytest.records import Case, Message, Response, Safety, Verdict

Item = tuple[Case, Response]
DEFAULT = "last"


def transcript(messages: Sequence[Message]) -> str:
    """A dialogue as plain text, one labelled turn per paragraph (system prompts left out: the
    judge reads what was said, not the framing it was said under)."""
    names = {"user": "User", "assistant": "Assistant"}
    return "\n\n".join(f"{names[m['role']]}: {content_text(m['content'])}" for m in messages if m["role"] in names)


def _last(case: Case, response: Response) -> list[Item]:
    return [(case, response)]


def _every_turn(case: Case, response: Response) -> list[Item]:
    conversation = response.conversation(case)
    items: list[Item] = []
    answers = [i for i, m in enumerate(conversation) if m["role"] == "assistant"][-(len(response.turns) + 1):]
    for number, index in enumerate(answers):
        before = tuple(conversation[:index])  # ends with the user turn this answer replies to
        text = conversation[index]["content"]
        turn = response if number == len(answers) - 1 else replace(response, text=text, reasoning=None)
        items.append((replace(case, messages=before, followups=()), replace(turn, turns=())))
    return items


def _conversation(case: Case, response: Response) -> list[Item]:
    before = response.conversation(case)[:-1]
    system = [m for m in before if m["role"] == "system"]
    images = images_of(before)  # kept beside the transcript: a judge that sees images gets them
    text = transcript(before)
    shown: tuple[Message, ...] = (*system, {"role": "user", "content": [*images, text_part(text)] if images else text})
    meta = case.meta
    if images:  # what a text judge reads instead: the transcript with the case's text-only request
        meta = {**meta, TEXT_ONLY_META: transcript(response.conversation(as_text_only(case))[:-1])}
    return [(replace(case, messages=shown, followups=(), meta=meta), replace(response, turns=()))]


def _worst(verdicts: Sequence[Verdict]) -> Verdict:
    """Any unsafe turn makes the case unsafe (the first such turn, named); else any unknown one."""
    total = len(verdicts)
    for safety in (Safety.NO, Safety.UNKNOWN):
        for number, verdict in enumerate(verdicts, start=1):
            if verdict.safe is safety:
                return replace(verdict, rationale=f"turn {number} of {total}: {verdict.rationale}")
    return verdicts[-1]


#: view -> (the items the judge sees for one case, how their verdicts make the case's)
VIEWS: dict[str, tuple[Callable[[Case, Response], list[Item]], Callable[[Sequence[Verdict]], Verdict]]] = {
    "last": (_last, lambda verdicts: verdicts[0]),
    "every-turn": (_every_turn, _worst),
    "conversation": (_conversation, lambda verdicts: verdicts[0]),
}


def judge_items(view: str, case: Case, response: Response) -> list[Item]:
    """What the judge is given for one case (its answer alone when the case has one turn)."""
    if view == DEFAULT or not response.turns:
        return [(case, response)]
    return VIEWS[view][0](case, response)


def combine(view: str, verdicts: Sequence[Verdict]) -> Verdict:
    """The case's verdict from its items' verdicts."""
    if len(verdicts) == 1:
        return verdicts[0]
    return VIEWS[view][1](verdicts)
