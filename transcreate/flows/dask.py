"""localize-campaign on a Dask cluster: the same flow, its render batches spread over Dask workers.

Set ``TRANSCREATE_DASK_ADDRESS`` (``tcp://scheduler:8786``) to use an existing cluster; without it
a local cluster of worker processes is started for the run. Each worker opens its own editor and
storage from the request, so nothing but small job records crosses the network.
"""

from __future__ import annotations

import os

from prefect_dask.task_runners import DaskTaskRunner

from transcreate.flows.localize import localize_campaign


def dask_task_runner() -> DaskTaskRunner:
    address = os.environ.get("TRANSCREATE_DASK_ADDRESS")
    if address:
        return DaskTaskRunner(address=address)
    workers = int(os.environ.get("TRANSCREATE_DASK_WORKERS", os.cpu_count() or 2))
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 4, "processes": True}
    )


localize_campaign_on_dask = localize_campaign.with_options(
    name="localize-campaign-dask",
    task_runner=dask_task_runner(),  # type: ignore[arg-type]  # prefect-dask's generics lag
)
