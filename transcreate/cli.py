"""The ``transcreate`` command.

Runs in this process by default (no server to wait for). With ``--prefect``, or when
``PREFECT_API_URL`` points at a Prefect server, it runs the ``localize-campaign`` flow there
instead, so the run shows up in the Prefect UI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from transcreate.errors import SetupError, TranscreateError
from transcreate.manifest import JobResult
from transcreate.pipeline import RunPlan, RunSummary, run_campaign
from transcreate.request import RunRequest
from transcreate.resources import data_dir

app = typer.Typer(
    help="Localize advertising creatives: one base image + a campaign sheet → every locale.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)  # paths and messages stay whole for grep

EXIT_INCOMPLETE = 1  # some job failed or some row was rejected: the manifest says which
EXIT_UNUSABLE = 2  # bad options, unreadable campaign or image, missing system component


@app.command()
def run(
    campaign: Annotated[str, typer.Argument(help="Campaign sheet (.csv/.xlsx), path or s3://")],
    image: Annotated[
        str, typer.Option("--image", "-i", help="Base creative (PNG/JPEG/WebP), path or s3://")
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Destination folder")] = "out",
    locales: Annotated[str, typer.Option(help="Comma-separated locales")] = "id,th,zh,en",
    backend: Annotated[
        str, typer.Option(help="Editor backend: local, dashscope, dify, openai")
    ] = "local",
    mode: Annotated[
        str | None, typer.Option(help="overlay, model or model+overlay (default by backend)")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Edits running at once")] = 4,
    retries: Annotated[int, typer.Option(help="Retries of a failed model call")] = 2,
    name: Annotated[str | None, typer.Option(help="Campaign name (default: file name)")] = None,
    strict: Annotated[bool, typer.Option(help="Stop before any edit if a row is bad")] = False,
    check: Annotated[
        bool, typer.Option(help="Read each output's copy back (OCR); flag outputs to review")
    ] = False,
    policy: Annotated[
        str | None, typer.Option(help="Policy file of blocked intents (default: shipped)")
    ] = None,
    max_instruction_chars: Annotated[
        int, typer.Option(help="Longest instruction sent to a model")
    ] = 200,
    max_image_mb: Annotated[float, typer.Option(help="Largest base image, in MB")] = 5.0,
    prefect: Annotated[
        bool | None,
        typer.Option(help="Run as a Prefect flow (default: when PREFECT_API_URL is set)"),
    ] = None,
    dask: Annotated[
        bool,
        typer.Option(help="Run the flow's batches on Dask (TRANSCREATE_DASK_ADDRESS or local)"),
    ] = False,
) -> None:
    """Localize CAMPAIGN onto IMAGE for every variant × locale; write images and a manifest."""
    try:
        request = RunRequest(  # paths stay text: Path() would fold "s3://b/k" into "s3:/b/k"
            campaign=campaign,
            image=image,
            out=out,
            locales=tuple(locales.split(",")),
            backend=backend,  # type: ignore[arg-type]  # checked by the model
            mode=mode,  # type: ignore[arg-type]
            concurrency=concurrency,
            retries=retries,
            strict=strict,
            checks=check,
            policy=policy or "",
            max_instruction_chars=max_instruction_chars,
            max_image_mb=max_image_mb,
            name=name or "",
        )
    except ValidationError as error:
        _fail(_validation_message(error))
    use_prefect = prefect if prefect is not None else bool(os.environ.get("PREFECT_API_URL"))
    _run(request, use_prefect or dask, dask)


@app.command()
def demo(
    out: Annotated[str, typer.Option("--out", "-o", help="Destination folder")] = "out",
    prefect: Annotated[bool, typer.Option(help="Run as a Prefect flow")] = False,
) -> None:
    """Run the shipped sample campaign (examples/) on the built-in local editor."""
    examples = data_dir("examples")
    request = RunRequest(
        campaign=str(examples / "skincare-sale.csv"), image=str(examples / "creative.png"), out=out
    )
    _run(request, prefect)


@app.command()
def edit(
    image: Annotated[Path, typer.Argument(help="Image to edit (PNG/JPEG/WebP)")],
    instruction: Annotated[str, typer.Argument(help="What to change, in any language")],
    backend: Annotated[str, typer.Option(help="Model backend: dashscope, dify, openai")] = (
        "dashscope"
    ),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output PNG (default: <image>-edited.png)")
    ] = None,
    retries: Annotated[int, typer.Option(help="Retries of a failed model call")] = 2,
) -> None:
    """Edit one image with one instruction on a model backend (no spreadsheet)."""
    from transcreate.client import edit_image_with_instruction

    try:
        target = edit_image_with_instruction(
            image,
            instruction,
            backend=backend,  # type: ignore[arg-type]  # the request model checks it
            out=out,
            retries=retries,
        )
    except TranscreateError as error:
        _fail(str(error))
    console.print(f"edited: {target}")


def _run(request: RunRequest, use_prefect: bool, on_dask: bool = False) -> None:
    try:
        summary = _run_with_prefect(request, on_dask) if use_prefect else _run_here(request)
    except TranscreateError as error:
        _fail(str(error))
    _report(summary)
    raise typer.Exit(0 if summary.succeeded else EXIT_INCOMPLETE)


def _run_here(request: RunRequest) -> RunSummary:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task("planning", total=None, status="")
        counts: dict[str, int] = {}

        def on_plan(plan: RunPlan) -> None:
            progress.update(bar, description=plan.campaign.name, total=len(plan.jobs))

        def on_result(result: JobResult) -> None:
            counts[result.status] = counts.get(result.status, 0) + 1
            status = " ".join(f"{key} {value}" for key, value in sorted(counts.items()))
            progress.update(bar, advance=1, status=status)

        return run_campaign(request, on_result=on_result, on_plan=on_plan)


def _run_with_prefect(request: RunRequest, on_dask: bool) -> RunSummary:
    from transcreate.flows.localize import flow_parameters, localize_request

    if on_dask:
        try:
            from transcreate.flows.dask import localize_campaign_on_dask
        except ImportError as error:
            raise SetupError(
                f"--dask needs prefect-dask ({error}); pip install -e '.[dask]'"
            ) from None
        return localize_campaign_on_dask(**flow_parameters(request))  # type: ignore[no-any-return]
    return localize_request(request)


def _report(summary: RunSummary) -> None:
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for problem in summary.problems:
        console.print(f"[red]rejected:[/] {problem}")
    for failure in summary.failures:
        console.print(f"[red]failed:[/] {failure}")
    for flagged in summary.flagged:
        console.print(f"[yellow]flagged:[/] {flagged}")
    table = Table(title=f"campaign {summary.campaign}", show_edge=False)
    for status in summary.counts:
        table.add_column(status, justify="right")
    table.add_row(*(str(count) for count in summary.counts.values()))
    console.print(table)
    console.print(f"manifest: {summary.manifest_csv}\n          {summary.manifest_json}")
    console.print(f"took {summary.seconds:.1f} s")


def _validation_message(error: ValidationError) -> str:
    """Pydantic's errors as the user typed the options: ``--max-image-mb: …``."""
    return "; ".join(_issue_text(issue) for issue in error.errors())


def _issue_text(issue: Any) -> str:
    option = "--" + "-".join(str(part) for part in issue["loc"]).replace("_", "-")
    message = str(issue["msg"]).removeprefix("Value error, ")
    if issue["type"] == "literal_error":
        choices = issue.get("ctx", {}).get("expected", "")
        message = f"{issue['input']!r} is not one of {choices}"
    return f"{option}: {message}" if issue["loc"] else message


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(EXIT_UNUSABLE)


@app.command()
def serve(
    folder: Annotated[Path, typer.Argument(help="The output folder to serve")] = Path("out"),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port)")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it to this machine")
    ] = "127.0.0.1",
) -> None:
    """Serve the output folder read-only over HTTP, so every link of a run opens in a browser."""
    import ipaddress

    from rich.markup import escape

    from transcreate.serve import base_url, make_server

    try:
        server = make_server(folder, host, port)
    except TranscreateError as error:
        _fail(escape(str(error)))
    url = base_url(server)
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        console.print(
            f"[yellow]warning:[/] anyone who can reach {escape(host)} can read the outputs"
        )
    console.print(f"serving {escape(str(server.RequestHandlerClass.root))} at {url} (read-only)")
    console.print(f"links in runs: export TRANSCREATE_OUTPUT_BASE_URL={url}")
    for page in sorted(server.RequestHandlerClass.root.glob("*/index.html")):
        console.print(f"gallery: {url}{escape(page.parent.name)}/index.html")
    console.print("Ctrl+C stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:  # pragma: no cover - `python -m transcreate.cli`
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
