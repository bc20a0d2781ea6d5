"""localize-campaign on a Dask cluster: the same flow, its render batches spread over Dask workers.

Set ``TRANSCREATE_DASK_ADDRESS`` (``tcp://scheduler:8786``) to use an existing cluster; without it
a local cluster of worker processes is started for the run. Each worker opens its own editor and
storage from the request, so nothing but small job records crosses the network.
"""

from __future__ import annotations

from prefect_dask.task_runners import DaskTaskRunner

from transcreate.flows.localize import localize_campaign
from transcreate.settings import dask_cluster


def dask_task_runner() -> DaskTaskRunner:
    cluster = dask_cluster()
    if cluster.address:
        return DaskTaskRunner(address=cluster.address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": cluster.workers, "threads_per_worker": 4, "processes": True}
    )


localize_campaign_on_dask = localize_campaign.with_options(
    name="localize-campaign-dask",
    task_runner=dask_task_runner(),  # type: ignore[arg-type]  # prefect-dask's generics lag
)
