"""Error types: a user mistake gets one clear line naming the file, line or option at fault."""
from __future__ import annotations


class DeepSightError(Exception):
    """Base of every error the plugin reports to the user as one line, without a traceback."""


class SpecError(DeepSightError):
    """An unknown or malformed name: model spec, judge, benchmark."""


class DataError(DeepSightError):
    """A benchmark file that is missing, unreadable or malformed (message names file and line)."""


class ConfigError(DeepSightError):
    """A bad option value or suite declaration."""


class BackendError(DeepSightError):
    """A model backend failed to load or generate."""


class GenerationError(BackendError):
    """A request for one case failed (endpoint down, timeout, refused key): the test errors and
    the next run retries it, since failed responses are never cached."""



class CaseTooLarge(GenerationError):
    """A case that does not fit the token budget even alone: its test is skipped with the reason,
    the gate leaves it out, the rest of the run goes on."""
