"""What the methods and the per-failure readings use of the session's DeepScan: a Protocol.

A leaf module: ``scan`` imports the methods (``failure``, ``references``) and they type their
``scan`` argument with :class:`ScanContext` instead of importing ``scan`` back. ``DeepScan``
satisfies it; a test can hand a method any object that does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    from deepsight_pytest.core.engine import Engine
    from deepsight_pytest.pytest_integration.options import Settings
    from deepsight_pytest.records import Record
    from deepsight_pytest.diagnostics.generation_states import CaseStates


class ScanContext(Protocol):
    """The model under test's internals and the run's data sets, as a method reads them."""

    @property
    def engine(self) -> Engine: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def backend(self) -> Any: ...  # the in-process model backend (``render`` and the weights)

    @property
    def model(self) -> Any: ...  # the transformers model (torch: not typed here)

    @property
    def tokenizer(self) -> Any: ...

    @property
    def blocks(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def token_budget(self) -> int | None: ...

    def stop_ids(self) -> set[int]: ...

    def states_of(self, record: Record) -> CaseStates | None: ...

    def datasets(self, method: str, params: Mapping[str, Any]) -> dict[str, list[Record]]: ...

    def solution(self, record: Record) -> str: ...
