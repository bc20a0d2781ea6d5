"""Prefect flows over the transcreate library (deployments are declared in prefect.yaml)."""
