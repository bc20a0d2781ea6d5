"""prefect.yaml against a real Prefect server: `prefect deploy --all`, every deployment read back.

A worker running a deployment's flow run (relative paths resolved in the checkout, its artifacts
posted) is walked in tests/browser/test_manager_day.py, from the form and from the desk.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
ROLLOUTS = {
    "rollout-jakarta": "Asia/Jakarta",
    "rollout-bangkok": "Asia/Bangkok",
    "rollout-shanghai": "Asia/Shanghai",
}
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Bangkok": "ICT", "Asia/Shanghai": "CST"}


@pytest.fixture(scope="module")
def api_env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


@pytest.fixture(scope="module")
def deployments(api_env) -> dict[str, Any]:
    """The README's two commands, run as a user would, then every deployment read back."""
    _prefect("work-pool", "create", "transcreate", "--type", "process", "--overwrite", env=api_env)
    _prefect("--no-prompt", "deploy", "--all", env=api_env)
    return {deployment.name: deployment for deployment in asyncio.run(_read_deployments())}


def test_deploy_all_creates_every_deployment_in_the_process_pool(deployments):
    assert set(deployments) == {
        "localize-campaign",
        *ROLLOUTS,
        "creative-requests",
        "check-requests-now",
    }
    assert {d.work_pool_name for d in deployments.values()} == {"transcreate"}
    pool = asyncio.run(_read_work_pool("transcreate"))
    assert pool.type == "process"


def test_every_deployment_enforces_its_parameter_schema(deployments):
    assert all(d.enforce_parameter_schema for d in deployments.values())


def test_rollouts_run_on_cron_in_their_regions_time_zone(deployments):
    for name, timezone in ROLLOUTS.items():
        [schedule] = deployments[name].schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 9 * * 1", timezone)
        assert schedule.active
        # its name carries the zone, whatever zone the browser shows the times in
        assert schedule.slug.endswith(
            f"{timezone.lower().replace('/', '-')}-{ZONE_NAMES[timezone].lower()}"
        )


def test_rollouts_say_their_local_time_and_zone_and_how_to_use_ones_own_campaign(deployments):
    # The UI shows the schedule in the browser's time; the description says the region's.
    for name, timezone in ROLLOUTS.items():
        description = deployments[name].description
        assert f"Mondays 09:00 {ZONE_NAMES[timezone]} ({timezone}" in description
        assert "your own campaign" in description


def test_the_inbox_can_be_checked_now_without_waiting_for_its_schedule(deployments):
    now = deployments["check-requests-now"]
    scheduled = deployments["creative-requests"]
    assert now.schedules == []
    assert (now.entrypoint, now.parameters) == (scheduled.entrypoint, scheduled.parameters)
    assert "check-requests-now" in scheduled.description
    assert "Quick run" in now.description


def test_rollouts_carry_their_own_locales_and_destination(deployments):
    for name, locale in [("rollout-jakarta", "id"), ("rollout-bangkok", "th")]:
        parameters = deployments[name].parameters
        assert parameters["locales"] == [locale]
        assert parameters["out"] == f"out/{name}"


def test_creative_requests_polls_the_inbox_every_five_minutes(deployments):
    deployment = deployments["creative-requests"]
    [schedule] = deployment.schedules
    assert schedule.schedule.interval == timedelta(minutes=5)
    assert deployment.parameters == {"inbox": "inbox", "out": "out"}
    assert deployment.entrypoint == "transcreate/flows/requests.py:process_requests"
    properties = deployment.parameter_openapi_schema["properties"]
    assert {"inbox", "out", "image", "locales", "backend"} <= set(properties)
    assert properties["inbox"]["description"]


def test_localize_campaign_shows_a_form_of_the_run_request(deployments):
    schema = deployments["localize-campaign"].parameter_openapi_schema
    # nothing is required: the image may come from each row (an image column, a product feed)
    assert schema.get("required", []) == []
    assert "image_link" in schema["properties"]["image"]["description"]
    # Prefect's own limit on a run's parameters, said where the rows are pasted
    assert "500 KB" in schema["properties"]["rows"]["description"]
    assert {"campaign", "rows", "image", "out", "locales", "review"} <= set(schema["properties"])
    advanced = schema["definitions"]["FlowOptions"]["properties"]
    assert {"backend", "mode", "concurrency"} <= set(advanced)
    assert all(advanced[field]["description"] for field in ("backend", "concurrency"))


def test_flow_runs_start_in_the_checkout_prefect_deploy_ran_in(deployments):
    # The build step's output is filled in at deploy time: an absolute path, not a placeholder
    # that depends on the worker's environment.
    for deployment in deployments.values():
        [step] = deployment.pull_steps
        assert step == {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}


def _prefect(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


async def _read_deployments() -> list[Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_deployments()


async def _read_work_pool(name: str) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_work_pool(name)
