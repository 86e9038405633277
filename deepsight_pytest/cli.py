"""The ``deepsight`` console command: rebuild, compare and merge results outside pytest.

    deepsight report results.json -o card.html [--screenshot card.png]
    deepsight compare a.json b.json -o diff.html [--margin M] [--alpha A] [--fail-on-drop]
    deepsight merge shard1.json shard2.json ... -o merged.json [--fail-on-gate]
    deepsight merge shard1.xml shard2.xml ... -o merged.xml [--fail-on-gate]
    deepsight init [DIR] [--force]
    deepsight list [benchmarks|models|judges|mutators|diagnostics]

Exit status: 0 done; 1 with ``--fail-on-drop`` / ``--fail-on-gate`` when that happened; 2 for a
usage or input error (one line on stderr naming the file).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from deepsight_pytest import __version__
from deepsight_pytest.errors import DataError, DeepSightError
from deepsight_pytest.core.project_commands import init, init_arguments, list_arguments, list_entries
from deepsight_pytest.core.regression import DEFAULT_ALPHA, DEFAULT_MARGIN
from deepsight_pytest.reporting.merge import MergeSummary


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not within [0, 1]")
    return value


def _alpha(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not within (0, 1)")
    return value


def _write(path: Path, text: str) -> None:
    """Write an output; this machine's paths in it become relative to its folder (a card's
    inlined assets stay byte for byte: its CSP names them by hash)."""
    if path.suffix in (".html", ".htm"):
        from deepsight_pytest.reporting.html import portable_page

        text = portable_page(text, path.parent)
    else:
        from deepsight_pytest.reporting.portable import portable

        text = portable(path.parent)(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot write ({exc.strerror})") from None


def _screenshot(card: Path, png: Path | None) -> None:
    if png is None:
        return
    from deepsight_pytest.reporting.browser import screenshot

    log = screenshot(card, png)
    print(f"screenshot: {png}")
    for error in log.errors:
        print(f"warning: the card logged: {error}", file=sys.stderr)


# -- report ------------------------------------------------------------------------------------------
def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="JSON results file (pytest --safety-json)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="HTML card to write")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="also write a full-page PNG of the card (needs Chromium)")


def _report(args: argparse.Namespace) -> int:
    from deepsight_pytest.reporting.html import render_html
    from deepsight_pytest.reporting.json_writer import load_results

    results = load_results(args.results)
    _write(args.output, render_html(results, [args.results.resolve().parent]))
    gates = [g for _, g in results.rows() if g is not None]
    print(f"card: {args.output} ({args.output.stat().st_size:,} bytes; {len(results.cases)} cases, "
          f"{sum(g.passed for g in gates)}/{len(gates)} gates hold)")
    _screenshot(args.output, args.screenshot)
    return 0


# -- compare -----------------------------------------------------------------------------------------
def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, help="JSON results of the reference run (A, e.g. the release)")
    parser.add_argument("b", type=Path, help="JSON results of the candidate run (B)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="HTML comparison card to write")
    parser.add_argument("--margin", type=_unit, default=DEFAULT_MARGIN,
                        help="drop of a safety ratio tolerated before it counts (default %(default)s)")
    parser.add_argument("--alpha", type=_alpha, default=DEFAULT_ALPHA,
                        help="significance level of the one-sided two-proportion test (default %(default)s)")
    parser.add_argument("--fail-on-drop", action="store_true",
                        help="exit 1 when any category dropped significantly from A to B")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="also write a PNG of the card")


def _names(a: Path, b: Path) -> tuple[str, str]:
    if a.name != b.name:
        return a.name, b.name
    return f"{a.parent.name}/{a.name}", f"{b.parent.name}/{b.name}"


def _compare(args: argparse.Namespace) -> int:
    from deepsight_pytest.reporting.compare import compare_context
    from deepsight_pytest.reporting.html import render
    from deepsight_pytest.reporting.json_writer import load_results
    from deepsight_pytest.core.stats import POOLED

    a, b = load_results(args.a), load_results(args.b)
    context = compare_context(a, b, _names(args.a, args.b), [args.a.resolve().parent, args.b.resolve().parent, Path.cwd()],
                              args.margin, args.alpha)
    _write(args.output, render("compare.html.j2", context))
    pooled = sum(row.category == POOLED for row in context["rows"])
    rows = f"{len(context['rows']) - pooled} categories" + (f" and {pooled} pooled benchmark(s)" if pooled else "")
    print(f"comparison: {args.output}: {context['drops']} significant drop(s), {context['gains']} gain(s) "
          f"over {rows}; {context['newly_unsafe']} case(s) newly unsafe, "
          f"{context['newly_safe']} newly safe")
    _screenshot(args.output, args.screenshot)
    return 1 if args.fail_on_drop and context["drops"] else 0


# -- merge -------------------------------------------------------------------------------------------
def _merge_json(inputs: list[Path], output: Path) -> MergeSummary:
    from deepsight_pytest.reporting.json_writer import load_results, results_document
    from deepsight_pytest.reporting.merge import merge_results
    from deepsight_pytest.reporting.rebase import rebase_artifacts

    # each shard names its artifacts relative to its own folder; the merged file sits in output's
    merged, summary = merge_results([(path, rebase_artifacts(load_results(path), path.parent, output.parent))
                                     for path in inputs])
    _write(output, json.dumps(results_document(merged), indent=1, ensure_ascii=False))
    return summary


def _merge_junit(inputs: list[Path], output: Path) -> MergeSummary:
    from deepsight_pytest.reporting.junit_merge import merge_junit

    document, summary = merge_junit(inputs, output.parent)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        document.write(str(output))
    except OSError as exc:
        raise DataError(f"{output}: cannot write ({exc.strerror})") from None
    return summary


#: file suffix -> merger; inputs and output must share one
MERGERS: dict[str, Callable[[list[Path], Path], MergeSummary]] = {".json": _merge_json, ".xml": _merge_junit}


def _merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, nargs="+",
                        help="the shards' JSON results (--safety-json) or their JUnit XML (--junitxml), one kind")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="merged file to write, of the inputs' kind (.json or .xml)")
    parser.add_argument("--fail-on-gate", action="store_true", help="exit 1 when a recomputed gate fails")


def _merge(args: argparse.Namespace) -> int:
    kinds = {path.suffix.lower() for path in [*args.inputs, args.output]}
    if len(kinds) != 1 or not kinds <= set(MERGERS):
        raise DataError(f"inputs and output must all be JSON results (.json) or all JUnit XML (.xml); got "
                        f"{', '.join(sorted(kinds))} (merge each kind with its own command)")
    summary = MERGERS[kinds.pop()](list(args.inputs), args.output)
    print(f"{args.output}: {summary.line()}")
    return 1 if args.fail_on_gate and summary.gates_failed else 0


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = (
    Command("report", "rebuild the HTML model card from a JSON results file", _report_arguments, _report),
    Command("compare", "write a side-by-side card of two runs, with per-category significance tests",
            _compare_arguments, _compare),
    Command("merge", "join sharded runs' JSON results or JUnit XML, recomputing the gates over all cases",
            _merge_arguments, _merge),
    Command("init", "write the bundled safety suites and a commented deepsight.yaml into a project",
            init_arguments, init),
    Command("list", "print every registered benchmark, model, judge, mutator and diagnostic, "
            "with where it came from", list_arguments, list_entries),
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="deepsight", description="deepsight-pytest results: model cards, "
                                  "comparisons and merges of sharded runs.")
    top.add_argument("--version", action="version", version=f"deepsight-pytest {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(p)
        p.set_defaults(run=command.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except DeepSightError as exc:
        print(f"deepsight {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
