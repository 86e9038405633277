"""The pytest side: options, collection of Python and config suites, fixtures, the hooks
loaded on first use, xdist support, the terminal progress line, asserts and
baseline regression tests. ``deepsight_pytest.plugin`` is its light entry point."""
