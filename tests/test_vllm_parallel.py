"""Multi-GPU / multi-node options of ``vllm:`` and ``vllm-server:`` reach vLLM under its own names.

No GPU here: the built engine arguments and server command line are checked, and the command line
is parsed by the installed vLLM's own server argument parser into its ``EngineArgs`` (real vLLM,
CPU build; nothing is started).
"""
from __future__ import annotations

import pytest
from backend_sessions import needs_vllm

from deepsight_pytest.errors import SpecError
from deepsight_pytest.models.vllm_backend import engine_options
from deepsight_pytest.models.vllm_server import server_command

PARALLEL = {"tp": "4", "pp": "2", "distributed_executor_backend": "ray"}
EXPECTED = {"tensor_parallel_size": 4, "pipeline_parallel_size": 2, "distributed_executor_backend": "ray"}


def test_parallel_options_parse_under_vllm_names() -> None:
    args, _ = engine_options(PARALLEL)
    assert {k: args[k] for k in EXPECTED} == EXPECTED
    command = server_command("/ckpt", 8123, args)
    for flag, value in (("--tensor-parallel-size", "4"), ("--pipeline-parallel-size", "2"),
                        ("--distributed-executor-backend", "ray")):
        assert command[command.index(flag) + 1] == value


def test_unknown_executor_backend_is_one_line() -> None:
    with pytest.raises(SpecError, match=r"^model option distributed_executor_backend: 'slurm' is not one of "
                                        r"ray, mp, uni, external_launcher$"):
        engine_options({"distributed_executor_backend": "slurm"})


@needs_vllm
def test_real_vllm_parser_reads_the_server_command_into_its_engine_args() -> None:
    from vllm.engine.arg_utils import EngineArgs
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    args, _ = engine_options(PARALLEL)
    command = server_command("/ckpt", 8123, args)
    parsed = make_arg_parser(FlexibleArgumentParser()).parse_args(command[3:])
    engine = EngineArgs.from_cli_args(parsed)
    assert {k: getattr(engine, k) for k in EXPECTED} == EXPECTED
    offline = EngineArgs(model="/ckpt", **args)  # what vllm.LLM(**engine_args) builds for vllm:
    assert {k: getattr(offline, k) for k in EXPECTED} == EXPECTED
