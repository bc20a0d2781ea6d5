"""One real Prefect API for the whole test session (a temporary server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    # Starts `prefect server` on a free loopback port with a throwaway SQLite database.
    with prefect_test_harness(server_startup_timeout=120):
        yield
