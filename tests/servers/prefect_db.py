"""One migrated Prefect database per test session, copied for every Prefect server a test starts.

A Prefect server on a fresh SQLite file runs every migration first: ~5 s on an idle machine and
twice that on a loaded one, paid by each server the suite starts (one per xdist worker, the
browser stack's, the deployments'). xdist's controller migrates one database in the background
while the workers collect (``start``, from pytest_configure); a server's fixture waits for it and
copies it (``copy_into``). Without one (a run in one process, or a failed migration), a server
migrates its own as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "TRANSCREATE_TEST_PREFECT_DB"  # where the workers find it (set before they start)
WAIT = 180.0  # seconds a fixture waits for the migration before migrating its own
PREFECT = str(Path(sys.executable).with_name("prefect"))


def start() -> Callable[[], None]:
    """Migrate a database into a temporary folder, in a thread; the file appears whole (written
    aside, then renamed) or not at all, with a ``.failed`` marker holding the output. Returns
    what removes the folder once the migration has ended."""
    folder = Path(tempfile.mkdtemp(prefix="prefect-db-"))
    target = folder / "migrated.db"
    os.environ[VARIABLE] = str(target)

    def migrate() -> None:
        aside = folder / "migrating.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(folder / "home"),
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{aside}",
        )
        done = subprocess.run(
            [PREFECT, "server", "database", "upgrade", "-y"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode == 0 and aside.is_file():
            aside.replace(target)
        else:
            (folder / "migrated.db.failed").write_text(done.stdout + done.stderr)

    thread = threading.Thread(target=migrate, name="prefect-db", daemon=True)
    thread.start()

    def remove() -> None:
        thread.join()
        shutil.rmtree(folder, ignore_errors=True)

    return remove


def copy_into(path: Path) -> bool:
    """Copy the session's migrated database to ``path``; False when there is none to copy."""
    chosen = os.environ.get(VARIABLE)
    if not chosen:
        return False
    template = Path(chosen)
    until = time.monotonic() + WAIT
    while not template.is_file():
        if template.with_suffix(".db.failed").is_file() or time.monotonic() > until:
            return False
        time.sleep(0.2)  # the controller's migration finishes while this worker collects
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return True


@contextmanager
def prefect_test_server() -> Iterator[None]:
    """Prefect's own test harness (a server subprocess on a temporary SQLite file), started on a
    copy of the migrated database: the harness names its file prefect-test.db in a fresh
    folder, so the folder it is handed already holds one."""
    import pytest
    from prefect.testing import utilities

    def folder_with_database() -> str:
        folder = tempfile.mkdtemp()
        copy_into(Path(folder) / "prefect-test.db")
        return folder

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utilities, "mkdtemp", folder_with_database)
        with utilities.prefect_test_harness(server_startup_timeout=120):
            yield
