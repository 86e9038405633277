"""Shared configuration of the project's own tests.

``pytester`` runs real inner pytest sessions (with the deepsight plugin loaded through its
pytest11 entry point) for the plugin-session tests.
"""
pytest_plugins = ["pytester"]

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _inline_image_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Inline images (MM-SafetyBench's Parquet cells) go to a temporary store, not the user's cache;
    inner pytest sessions inherit it."""
    os.environ.setdefault("DEEPSIGHT_IMAGE_DIR", str(tmp_path_factory.mktemp("inline-images")))
