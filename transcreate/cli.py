"""The ``transcreate`` command.

Runs in this process by default (no server to wait for). With ``--prefect``, or when
``PREFECT_API_URL`` points at a Prefect server, it runs the ``localize-campaign`` flow there
instead, so the run shows up in the Prefect UI.

Results (the summary table, where the manifest is) go to stdout; progress and diagnostics go to
stderr, so the command composes in scripts. The options of ``run`` are generated from the request
model (`transcreate.request`): its fields, defaults and help texts are the single source.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from transcreate import __version__
from transcreate.errors import SetupError, TranscreateError
from transcreate.manifest import JobResult
from transcreate.request import RunInputs, RunOptions, RunRequest
from transcreate.resources import data_dir
from transcreate.run import RunPlan, RunSummary
from transcreate.settings import prefect_api_url
from transcreate.wiring import localize

app = typer.Typer(
    help="Localize advertising creatives: one base image + a campaign sheet → every locale.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help wraps to the terminal's width instead of cutting names
    pretty_exceptions_enable=False,  # a bug's traceback stays a plain Python traceback
)
# soft_wrap: paths and messages stay whole for grep. highlight off: user text is not decorated.
console = Console(soft_wrap=True, highlight=False)  # results
diagnostics = Console(stderr=True, soft_wrap=True, highlight=False)  # progress, warnings, errors

EXIT_INCOMPLETE = 1  # some job failed or some row was rejected: the manifest says which
EXIT_UNUSABLE = 2  # bad options, unreadable campaign or image, missing system component
DEMO_SIZES = "base,story,landscape"  # the demo shows the size axis
# ... and scripts: Japanese, and Arabic right to left, beside the first four markets
DEMO_LOCALES = "id,th,zh,en,ja,ar"
SHOWN_PER_KIND = 10  # messages of one kind printed before "…and N more"

# Short or older spellings kept beside the option generated from a field's name.
ALIASES: dict[str, tuple[str, ...]] = {"out": ("-o",), "image": ("-i",), "checks": ("--check",)}
# Fields that are not options of `run`: the campaign is its argument, pasted rows are the form's.
NOT_OPTIONS = ("campaign", "rows")


def _version(value: bool) -> None:
    if value:
        console.print(f"transcreate {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Localize advertising creatives: one base image + a campaign sheet → every locale."""


def _request_parameters() -> list[inspect.Parameter]:
    """One typer option per field of the request model, with its default and help."""
    parameters = []
    inputs_first = [*RunInputs.model_fields, *RunOptions.model_fields]
    for name in inputs_first:
        field = RunRequest.model_fields[name]
        if name in NOT_OPTIONS:
            continue
        kind, default = _option_type(field)
        required = field.is_required()
        declared = ("--" + name.replace("_", "-"), *ALIASES.get(name, ()))
        option = typer.Option(
            *declared,
            help=_help(field),
            show_default=not required and default != "",
        )
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[kind, option],
                default=inspect.Parameter.empty if required else default,
            )
        )
    return parameters


def _option_type(field: FieldInfo) -> tuple[type, Any]:
    """The type typer parses (text for choices and lists: the model checks them) and default."""
    annotation, default = field.annotation, field.default
    if annotation in (bool, int, float):
        return annotation, default  # type: ignore[return-value]
    if isinstance(default, tuple):
        return str, ",".join(default)
    return str, default


def _help(field: FieldInfo) -> str:
    text = field.description or ""
    choices = typing.get_args(field.annotation)
    if typing.get_origin(field.annotation) is typing.Literal:
        text += f" (one of: {', '.join(choices)})"
    return text


def _with_request_options(
    command: Callable[..., None],
) -> Callable[..., None]:
    """Give ``command`` the request's options after its own parameters."""
    hints = typing.get_type_hints(command, include_extras=True)  # resolves the string annotations
    own = [
        parameter.replace(annotation=hints[parameter.name])
        for parameter in inspect.signature(command).parameters.values()
        if parameter.name != "options"
    ]
    generated = _request_parameters()
    names = {parameter.name for parameter in generated}

    def wrapper(**given: Any) -> None:
        options = {name: given.pop(name) for name in list(given) if name in names}
        command(**given, options=options)

    ordered = sorted(own, key=lambda parameter: parameter.kind) + generated
    wrapper.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
    wrapper.__doc__ = command.__doc__
    wrapper.__name__ = command.__name__
    return wrapper


def run(
    campaign: Annotated[
        str, typer.Argument(help="Campaign sheet (.csv/.xlsx): a path, s3:// or https://")
    ],
    prefect: Annotated[
        bool | None,
        typer.Option(help="Run as a Prefect flow (default: when PREFECT_API_URL is set)"),
    ] = None,
    dask: Annotated[
        bool,
        typer.Option(help="Run the flow's batches on Dask (TRANSCREATE_DASK_ADDRESS or local)"),
    ] = False,
    *,
    options: dict[str, Any],
) -> None:
    """Localize CAMPAIGN onto IMAGE for every variant × locale; write images and a manifest."""
    request = _request(campaign=campaign, **options)
    use_prefect = prefect if prefect is not None else bool(prefect_api_url())
    _run(request, use_prefect or dask, dask)


app.command(name="run")(_with_request_options(run))


@app.command()
def demo(
    out: Annotated[str, typer.Option("--out", "-o", help="Destination folder")] = "out",
    prefect: Annotated[bool, typer.Option(help="Run as a Prefect flow")] = False,
    sizes: Annotated[
        str, typer.Option(help="Ad sizes to make (base: the creative's own)")
    ] = DEMO_SIZES,
    locales: Annotated[str, typer.Option(help="Languages to make")] = DEMO_LOCALES,
) -> None:
    """Run the shipped sample campaign (examples/) on the built-in local editor."""
    examples = data_dir("examples")
    request = _request(
        campaign=str(examples / "skincare-sale.csv"),
        image=str(examples / "creative.png"),
        out=out,
        sizes=sizes,
        locales=locales,
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
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output image (.png, .jpg/.jpeg or .webp) or folder (default: "
            "<image>-edited.png beside the image)",
        ),
    ] = None,
    retries: Annotated[int, typer.Option(help="Retries of a failed model call")] = 2,
) -> None:
    """Edit one image with one instruction on a model backend (no spreadsheet)."""
    from transcreate.client import edit_image_with_instruction

    if out is not None and out.is_dir():  # a folder: the edited file goes inside it
        out = out / f"{image.stem}-edited.png"
    try:
        target = edit_image_with_instruction(
            image,
            instruction,
            backend=backend,  # type: ignore[arg-type]  # the request model checks it
            out=out,
            retries=retries,
        )
    except ValidationError as error:
        _fail(_validation_message(error))
    except TranscreateError as error:
        _fail(str(error))
    console.print(f"edited: {escape(str(target))}")


def _request(**fields: Any) -> RunRequest:
    try:
        return RunRequest(**fields)
    except ValidationError as error:
        _fail(_validation_message(error))


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
        console=diagnostics,
        transient=False,
    ) as progress:
        bar = progress.add_task("planning", total=None, status="")
        counts: dict[str, int] = {}

        def on_plan(plan: RunPlan) -> None:
            progress.update(bar, description=escape(plan.campaign.name), total=len(plan.jobs))

        def on_result(result: JobResult) -> None:
            counts[result.status] = counts.get(result.status, 0) + 1
            status = " ".join(f"{key} {value}" for key, value in sorted(counts.items()))
            progress.update(bar, advance=1, status=status)

        try:
            return localize(request, on_result=on_result, on_plan=on_plan)
        except TranscreateError:
            progress.remove_task(bar)  # unusable input is one line: no half-drawn bar above it
            raise


def _run_with_prefect(request: RunRequest, on_dask: bool) -> RunSummary:
    from transcreate.flows.localize import flow_parameters, localize_request

    _check_prefect_api()
    if on_dask:
        try:
            from transcreate.flows.dask import localize_campaign_on_dask
        except ImportError as error:
            raise SetupError(
                f"--dask needs prefect-dask ({error}); pip install -e '.[dask]'"
            ) from None
        return localize_campaign_on_dask(**flow_parameters(request))  # type: ignore[no-any-return]
    return localize_request(request)


def _check_prefect_api() -> None:
    """One sentence, before any run starts, when PREFECT_API_URL names a server that is down."""
    url = prefect_api_url()
    if not url:
        return  # Prefect starts a temporary local server itself
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Prefect reads its settings once, at import; ask the server the environment names now
    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise SetupError(
            f"the Prefect API at {url} does not answer ({type(problem).__name__}); start it "
            "with `prefect server start`, or unset PREFECT_API_URL to run in this process"
        )


def _report(summary: RunSummary) -> None:
    _print_capped("warning", "yellow", summary.warnings, "warnings")
    _print_capped("rejected", "red", summary.problems, "rejected rows")
    _print_capped("failed", "red", summary.failures, "failed jobs")
    _print_capped("flagged", "yellow", summary.flagged, "flagged jobs")
    table = Table(title=f"campaign {escape(summary.campaign)}", show_edge=False)
    for status in summary.counts:
        table.add_column(status, justify="right")
    table.add_row(*(str(count) for count in summary.counts.values()))
    console.print(table)
    console.print(f"manifest: {escape(summary.manifest_csv)}")
    console.print(f"          {escape(summary.manifest_json)}")
    if summary.gallery:
        console.print(f"gallery:  {escape(summary.gallery)}")
    if summary.planned_calls is not None:
        diagnostics.print(f"model calls planned: at most {summary.planned_calls}")
    diagnostics.print(f"took {summary.seconds:.1f} s")


def _print_capped(label: str, color: str, messages: list[str], kind: str) -> None:
    for message in messages[:SHOWN_PER_KIND]:
        diagnostics.print(f"[{color}]{label}:[/] {escape(message)}")
    if len(messages) > SHOWN_PER_KIND:
        more = len(messages) - SHOWN_PER_KIND
        diagnostics.print(f"[{color}]…and {more:,} more {kind}[/], see the manifest")


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
    diagnostics.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_UNUSABLE)


@app.command()
def serve(
    folder: Annotated[Path, typer.Argument(help="The output folder to serve")] = Path("out"),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port)")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it to this machine")
    ] = "127.0.0.1",
) -> None:
    """The campaign desk in a browser (upload, check, run, review, download), and the output
    folder's files read-only, so every link of a run opens."""
    import ipaddress
    import os
    import socket

    import uvicorn

    from transcreate.desk.app import make_app

    root = folder.expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _fail(f"{root}: cannot make the folder to serve ({error.strerror})")
    if not root.is_dir():
        _fail(f"{root}: is a file, not a folder; give the runs' output folder")
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    token = os.environ.get("TRANSCREATE_DESK_TOKEN") or None
    if not local and not token:
        _fail(
            f"{host} is reachable from other machines: set TRANSCREATE_DESK_TOKEN to a long "
            "random secret first (people sign in with it), or serve on 127.0.0.1"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)  # connections wait from now on, as the address is printed
    except OSError as error:
        _fail(f"{host}:{port}: cannot serve there ({error.strerror}); choose another --port")
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    console.print(f"serving {escape(str(root))} at {url} (the campaign desk; files read-only)")
    console.print(f"links in runs: export TRANSCREATE_OUTPUT_BASE_URL={url}")
    if token:
        console.print("sign-in: the token in TRANSCREATE_DESK_TOKEN")
    console.print("Ctrl+C stops it")
    app_ = make_app(root, token=token, secret=os.environ.get("TRANSCREATE_DESK_SECRET"))
    server = uvicorn.Server(uvicorn.Config(app_, log_level="warning", access_log=False))
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()


def main() -> None:  # pragma: no cover - `python -m transcreate.cli`
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
