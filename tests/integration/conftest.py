"""One real Prefect API for the whole test session (a temporary server on loopback)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.servers.seaweed import SeaweedS3

BUCKET = "transcreate-test"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    from tests.servers.prefect_db import prefect_test_server

    # Starts `prefect server` on a free loopback port with a throwaway SQLite database.
    with prefect_test_server():
        yield


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One signature-checking S3 server per session; boto3 finds it the way users configure it:
    AWS_ENDPOINT_URL_S3 and the AWS_* credential variables."""
    folder = tmp_path_factory.mktemp("seaweed")
    access_key, secret_key = f"AKID{secrets.token_hex(8).upper()}", secrets.token_hex(20)
    with SeaweedS3(folder, access_key, secret_key) as server, pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            env.delenv(name)  # nothing from the developer's own AWS setup
        env.setenv("AWS_CONFIG_FILE", str(folder / "no-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("AWS_ACCESS_KEY_ID", access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("AWS_ENDPOINT_URL_S3", server.endpoint)
        server.client().create_bucket(Bucket=BUCKET)
        yield server
