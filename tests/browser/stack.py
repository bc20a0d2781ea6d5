"""What a campaign manager's browser talks to, started as the README says: a Prefect server, the
localize-campaign deployment, a process worker, and the output folder served over HTTP.

Every process binds 127.0.0.1 on a free port, keeps its state in one temporary folder, and is
stopped by `Stack.close` (or the `with` block).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.servers.prefect_db import copy_into
from tests.servers.seaweed import free_ports

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "transcreate"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # The run page's flow graph is WebGL: without a GPU it renders in software, continuously,
    # at 1.5 cores while a page is open, starving the Prefect server of the machine's two (its
    # SQLite then answers "database is locked"). The graph is not what these tests look at.
    "--disable-3d-apis",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


class Stack:
    """A Prefect server with a worker and a served output folder, all on loopback."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.out = folder / "out"
        self.out.mkdir(parents=True, exist_ok=True)
        prefect_port, files_port = free_ports(2)
        self.url = f"http://127.0.0.1:{prefect_port}"
        self.files_url = f"http://127.0.0.1:{files_port}/"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
            "PREFECT_HOME": str(folder / "prefect-home"),
            "PREFECT_API_URL": f"{self.url}/api",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(prefect_port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": (f"sqlite+aiosqlite:///{folder / 'prefect.db'}"),
            "PREFECT_LOGGING_LEVEL": "INFO",
            # SQLite under a loaded CI machine: a write waits up to a minute for the lock
            # (default 10 s) instead of answering 500 ("database is locked") to the form.
            "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
            # The worker looks for scheduled runs every second, not every ten: a run the form
            # submits starts at once, as a manager waiting at the page would want anyway.
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            # A paused run looks for the reviewer's answer every second, not every ten.
            "TRANSCREATE_REVIEW_POLL_SECONDS": "1",
            # Links in the run's artifacts point into the served output folder.
            "TRANSCREATE_OUTPUT_BASE_URL": self.files_url,
        }
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        copy_into(self.folder / "prefect.db")  # the session's migrated database, if ready
        port = self.env["PREFECT_SERVER_API_PORT"]
        self._spawn("server", [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", port])
        files_port = self.files_url.rstrip("/").rsplit(":", 1)[1]
        serve = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
        self._spawn("files", [*serve, "--directory", str(self.out), files_port])
        self._wait_for(f"{self.url}/api/health", "the Prefect server")
        self._wait_for(self.files_url, "the output folder's server")
        self.prefect("work-pool", "create", POOL, "--type", "process", "--overwrite")
        # the worker starts (a few seconds of imports) while the deployment is made: it polls
        # the pool, which exists, and finds the deployment's runs once there are any
        self._spawn("worker", [PREFECT, "worker", "start", "--pool", POOL])
        self.prefect("--no-prompt", "deploy", "--name", "localize-campaign")

    def prefect(self, *args: str) -> str:
        result = subprocess.run(
            [PREFECT, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api", timeout=30)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        for _, process in reversed(self.processes):
            process.terminate()
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self.processes.clear()

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append((name, process))

    def _wait_for(self, url: str, what: str, deadline: float = 180) -> None:
        until = time.monotonic() + deadline
        while time.monotonic() < until:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.log(name)}")
            try:
                if httpx.get(url, timeout=5).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)  # polling with a deadline, not waiting on a guess
        raise RuntimeError(f"{what} did not answer at {url} within {deadline:g} s")
