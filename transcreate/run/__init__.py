"""The run engine: plan → execute → schedule → publish, and the ports it needs (`ports.Adapters`,
built by the root, `transcreate.wiring`). The CLI, the Prefect flow, Dask and the inbox all drive
one `Run`."""

from transcreate.run.engine import Run, job_context, run_campaign
from transcreate.run.plan import RunPlan
from transcreate.run.ports import Adapters
from transcreate.run.publish import RunSummary

__all__ = ["Adapters", "Run", "RunPlan", "RunSummary", "job_context", "run_campaign"]
