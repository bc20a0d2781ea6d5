"""Shared fixtures: the shipped sample and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Prefect reads its settings at import: keep every test run local and quiet.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract is faster single-threaded on 2 cores


def pytest_configure(config: pytest.Config) -> None:
    # In xdist's controller, before any worker starts: one migrated Prefect database for every
    # Prefect server the session starts (tests/servers/prefect_db.py), made while the workers
    # collect. Not in one process (its first server would only wait for it), nor for a run of
    # unit tests alone (they start no server).
    unit_only = config.args and all("tests/unit" in arg for arg in config.args)
    workers = getattr(config.option, "numprocesses", None)
    if workers and not hasattr(config, "workerinput") and not unit_only:
        from tests.servers import prefect_db

        if prefect_db.VARIABLE not in os.environ:
            config.add_cleanup(prefect_db.start())


@pytest.fixture(scope="session")
def sample_campaign() -> Path:
    return EXAMPLES / "skincare-sale.csv"


@pytest.fixture(scope="session")
def sample_image() -> Path:
    return EXAMPLES / "creative.png"


def counts(**given: int) -> dict[str, int]:
    """A run's counts by status, every status present: ``counts(ok=22, skipped=2)``."""
    from transcreate.manifest import STATUSES

    return {status: given.get(status, 0) for status in STATUSES}


def use_fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: object) -> None:
    """Point transcreate at a fake model API the way a user would: the provider's variables, a
    fresh result cache, and a working folder with no transcreate.toml of anyone else's."""
    for name, value in server.environment().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRANSCREATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
