"""The composition root: configuration and the environment are read here, once per request, and
every adapter a run needs is built here with its limits and gates. The CLI, the flows, the inbox
and the one-off edit all come through `build`; nothing is patched onto a built object later.

One knob bounds the work in flight: the request's ``concurrency``. ``max_concurrency`` in the
config file (per backend) and a Prefect global concurrency limit ``transcreate-<backend>`` can
only lower it, and `Adapters.bound` says which one decided, so the run can say it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from transcreate.addresses import guarded_client
from transcreate.editors import (
    ByLocale,
    Editor,
    Mode,
    ModelThenOverlay,
    check_mode,
    load_editor_class,
)
from transcreate.editors.model import Gate, ModelEditor, ReadImage
from transcreate.editors.wire import Wire
from transcreate.errors import CampaignError, StorageError
from transcreate.glossary import Glossary, parse_glossary
from transcreate.images import BaseCreative, load_base_creative
from transcreate.inputs import DEADLINE as LINK_DEADLINE
from transcreate.inputs import TIMEOUT as LINK_TIMEOUT
from transcreate.inputs import Allowed, campaign_input, image_input, read_input
from transcreate.instructions import instruction_language
from transcreate.looks import read_looks
from transcreate.ocr import require_tesseract
from transcreate.policy import Policy, load_policy
from transcreate.quality import OutputChecks
from transcreate.request import RunOptions, RunRequest
from transcreate.row_images import RowImages
from transcreate.run import Adapters, RunPlan, RunSummary, run_campaign
from transcreate.run.schedule import OnResult
from transcreate.settings import (
    allowed_private_callbacks,
    allowed_private_inputs,
    load_config,
    model_settings,
    storage_settings,
    translation_settings,
)
from transcreate.storage import Storage, open_storage
from transcreate.storage.drafts import Drafts, published_of
from transcreate.translation.chat import ChatTranslator
from transcreate.translation.fill import Approved
from transcreate.translation.memory import TranslationMemory
from transcreate.translation.sheet import read_translations

MAX_GLOSSARY_BYTES = 2 * 1024 * 1024  # thousands of names fit in far less
MAX_LOOKS_BYTES = 64 * 1024  # ten looks of 300 characters are 3 KB

if TYPE_CHECKING:
    from transcreate.inbox import Inbox


def build(
    request: RunRequest,
    *,
    prefect_limits: bool = False,
    config: dict[str, Any] | None = None,
    editor: Editor | None = None,
) -> Adapters:
    """Build the editor, storage, policy, checks and limits for ``request``.

    ``editor``: an editor of the caller's own (an in-house model or compositor, anything with
    the `Editor` protocol) that makes every job in place of the request's backend, within the
    run's concurrency; its identity is in every job key, as a backend's is.

    ``prefect_limits``: inside a flow run, take a slot of the Prefect global concurrency limit
    ``transcreate-<backend>`` (when one exists) around each model call, so many runs share one
    endpoint budget.
    """
    config = load_config() if config is None else config
    storage = open_storage(request.out, storage_settings(config))  # a bad one fails now
    published = published_of(request.out)
    if published is not None:  # a review's draft: what is published already is not made again
        storage = Drafts(storage, open_storage(published, storage_settings(config)))
    allow_private = allowed_private_inputs()
    # one connection pool for every image link of the run (a catalog's are on one host)
    fetch = partial(fetch_image, max_mb=request.max_image_mb, client=_link_client())
    # a path, s3:// or an https:// link; none when every row of the sheet brings its own
    creative = fetch(request.image.strip()) if request.image.strip() else None
    images = RowImages(creative, fetch)
    concurrency, bound = request.concurrency, f"the run's concurrency ({request.concurrency})"
    gate: Gate | None = None
    model = ""
    if request.backend != "local":
        settings = model_settings(request.backend, config)
        model, configured = settings.model, settings.max_concurrency
        if configured is not None and configured < concurrency:
            concurrency = configured
            bound = f"max_concurrency = {configured} in [backends.{request.backend}] of the config"
        if prefect_limits:
            limit = prefect_global_limit(f"transcreate-{request.backend}")
            if limit is not None:
                gate = _prefect_slot(f"transcreate-{request.backend}")
                if limit < concurrency:
                    concurrency = limit
                    bound = f"the Prefect global concurrency limit transcreate-{request.backend}"
    language = instruction_language(request.instruction_language, request.backend, model)
    link = input_link(request.image)
    mask = (
        read_input(request.product_mask, allow_private=allow_private).data
        if request.product_mask
        else None
    )
    if mask is not None:
        from transcreate.compose.saliency import mask_from_image  # numpy: only when there is a mask

        try:  # an unreadable mask fails now, not on every sized job
            mask_from_image(mask, (8, 8))
        except CampaignError as error:
            raise CampaignError(f"{request.product_mask}: {error}") from None
    translation = config.get("translation", {})
    named = request.glossary or (translation.get("glossary", "") if request.translate else "")
    glossary = read_glossary(named, allow_private) if named else None
    translator = memory = None
    if request.translate:
        translator = ChatTranslator(translation_settings(config))
        memory = TranslationMemory(storage, translator.identity)
    approved = read_approved(request.translations, allow_private) if request.translations else {}
    looks = None
    if request.looks.strip():
        source = read_input(
            request.looks.strip(),
            what="looks",
            max_bytes=MAX_LOOKS_BYTES,
            allow_private=allow_private,
        )
        looks = read_looks(source.data.decode("utf-8", "replace"), source.name)
    own_editor = editor is not None
    if editor is None:
        compositor = compositor_for(request, mask, images.data)
        editor = open_editor(
            request.backend,
            request.effective_mode,
            config=config,
            max_concurrency=concurrency,
            gate=gate,
            input_links={creative.sha256: link} if link and creative else None,
            compositor=compositor,
            product_mask=mask,
            logos=images.data,
        )
        rerouted = request.rerouted_locales
        if rerouted and compositor is not None:  # mode auto: those locales' copy is set exactly
            by_overlay = ModelThenOverlay(editor, compositor)
            editor = ByLocale(editor, dict.fromkeys(rerouted, by_overlay))
    chosen_policy = request.policy or os.environ.get("TRANSCREATE_POLICY")
    return Adapters(
        editor=editor,
        storage=storage,
        images=images,
        policy=_policy(chosen_policy or None),
        checks=output_checks(request, mask),
        concurrency=concurrency,
        bound=bound,
        callback_secret=callback_secret(request.callback_secret_block),
        callback_hosts=allowed_private_callbacks(),
        instruction_language=language,
        glossary=glossary,
        translator=translator,
        translation_memory=memory,
        approved=approved,
        looks=looks,
        editor_bounds_calls=request.backend != "local" and not own_editor,
        campaign=partial(
            campaign_input, request.campaign, request.rows, allow_private=allow_private
        ),
    )


# Adapters built in this process, by (request, creative hash): a flow builds them once and its batch
# tasks in the same process reuse them; a task in another process (a Dask worker) builds its own
# and checks that it sees the same creative. Module-level, so tasks pickle it by reference.
_built: dict[tuple[RunRequest, str], Adapters] = {}
_built_lock = threading.Lock()


def localize(
    request: RunRequest,
    on_result: OnResult | None = None,
    on_plan: Callable[[RunPlan], None] | None = None,
    adapters: Adapters | None = None,
) -> RunSummary:
    """Build what ``request`` needs and run it in this process (the CLI's run without Prefect)."""
    return run_campaign(request, adapters or build(request), on_result, on_plan)


def input_link(location: str) -> str | None:
    """A link a model provider can fetch an ``s3://`` input from (presigned); None otherwise."""
    if not location.startswith("s3://"):
        return None
    from transcreate.storage.s3 import S3Storage  # boto3 loads only for S3

    parts = urlsplit(location)
    return S3Storage(f"s3://{parts.netloc}").url(parts.path.lstrip("/"))


def open_inbox(location: str) -> Inbox:
    """A folder (created if missing) or ``s3://bucket/prefix``, checked now: a wrong bucket or
    missing credentials fail the run instead of sending every request to failed/."""
    from transcreate.inbox import FolderInbox, S3Inbox  # botocore loads only for an inbox

    if location.startswith("s3://"):
        from transcreate.storage.s3 import S3Storage  # boto3 loads only for S3

        storage = S3Storage(location)
        storage.check()
        return S3Inbox(storage)
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise StorageError(f"{location}: unknown scheme {scheme!r}; use a folder or s3://bucket/…")
    return FolderInbox(Path(location))


def destination(request: RunRequest) -> Storage:
    """The request's destination storage alone (publishing an approved review needs no more)."""
    return open_storage(request.out, storage_settings(load_config()))


def built_once(request: RunRequest, image_sha256: str | None = None) -> Adapters:
    """`build` with Prefect limits, once per request and creative in this process."""
    with _built_lock:
        if image_sha256 is not None and (request, image_sha256) in _built:
            return _built[(request, image_sha256)]
        adapters = build(request, prefect_limits=True)
        if image_sha256 is not None and creative_hash(adapters) != image_sha256:
            raise StorageError(f"{request.image} changed while the run was going; start it again")
        _built[(request, creative_hash(adapters))] = adapters
        return adapters


def creative_hash(adapters: Adapters) -> str:
    """The hash of the run's own image; "" when every row brings its own."""
    return adapters.creative.sha256 if adapters.creative is not None else ""


def fetch_image(location: str, max_mb: float, client: httpx.Client | None = None) -> BaseCreative:
    """An image a request or a row names (a path, s3:// or a link), fetched and checked."""
    max_bytes = int(max_mb * 1024 * 1024)
    source = image_input(location, max_bytes, allow_private=allowed_private_inputs(), client=client)
    return load_base_creative(source.name, data=source.data, max_bytes=max_bytes)


@lru_cache(maxsize=1)
def _link_client() -> httpx.Client:
    """The client image links are fetched with, one per process (made when first asked for):
    a TLS context and a connection pool each per link cost more than a small image."""
    client: httpx.Client = guarded_client(
        allowed_private_inputs, LINK_DEADLINE, timeout=LINK_TIMEOUT, follow_redirects=False
    )
    return client


def forget(options: RunOptions) -> None:
    """Drop the adapters built for requests with these options (a run's end)."""
    with _built_lock:
        for key in [key for key in _built if key[0].options == options]:
            _built.pop(key).pool.shutdown(wait=False)


def open_editor(
    backend: str,
    mode: Mode,
    *,
    config: dict[str, Any] | None = None,
    max_concurrency: int | None = None,
    gate: Gate | None = None,
    input_links: dict[str, str] | None = None,
    compositor: Editor | None = None,
    product_mask: bytes | None = None,
    logos: ReadImage | None = None,
) -> Editor:
    """The editor registered under ``backend`` in ``mode``, with its limits; an unknown name
    lists the known ones. ``compositor`` sets the copy (backend local, mode model+overlay);
    ``product_mask`` (image bytes) is where the product is when a model's input is framed in an
    ad size; ``logos`` reads a row's logo (`RowImages.data`)."""
    editor_class = load_editor_class(backend)
    check_mode(backend, mode)
    if backend == "local":
        editor: Editor = compositor or editor_class()
        return editor
    from transcreate.editors.local import LocalEditor

    settings = model_settings(backend, load_config() if config is None else config)
    if max_concurrency is not None:
        settings = replace(settings, max_concurrency=max_concurrency)
    model = ModelEditor(
        editor_class(settings, Wire.to(settings)),
        settings,
        gate=gate,
        input_links=input_links,
        product_mask=product_mask,
        logos=logos,
    )
    if mode == "model+overlay":
        return ModelThenOverlay(model, compositor or LocalEditor(logos=logos))
    return model


def compositor_for(
    request: RunRequest, mask: bytes | None = None, logos: ReadImage | None = None
) -> Editor | None:
    """The built-in compositor with the request's layout and product ``mask``, when it sets
    copy; ``logos`` reads a row's logo."""
    overlaid = [tag for tag in request.locales if request.mode_for(tag) != "model"]
    if not overlaid:
        return None
    from transcreate.compose.fonts import require_fonts
    from transcreate.editors.local import LocalEditor

    require_fonts(overlaid)  # a missing face fails now, naming its package, not on every job
    return LocalEditor(layout=request.layout, mask=mask, logos=logos)


def _policy(path: str | None) -> Policy:
    """The policy file compiled once per process (and again when the file changes)."""
    stamp = Path(path).stat().st_mtime_ns if path and Path(path).is_file() else 0
    return _compiled_policy(path, stamp)


@lru_cache(maxsize=4)
def _compiled_policy(path: str | None, stamp: int) -> Policy:
    return load_policy(Path(path) if path else None)


def read_glossary(location: str, allow_private: Allowed = frozenset()) -> Glossary:
    """The glossary a request names, read with the checks every input gets."""
    source = read_input(
        location, what="glossary", max_bytes=MAX_GLOSSARY_BYTES, allow_private=allow_private
    )
    return parse_glossary(source.data, source.name)


def read_approved(location: str, allow_private: Allowed = frozenset()) -> Approved:
    """A reviewer's translations, read with the checks every input gets."""
    source = read_input(
        location, what="translations", max_bytes=MAX_GLOSSARY_BYTES, allow_private=allow_private
    )
    return read_translations(source.data, source.name)


def output_checks(request: RunRequest, mask: bytes | None = None) -> OutputChecks | None:
    """The checks the request asks for; fails now if tesseract cannot read its locales."""
    if not request.checks:
        return None
    require_tesseract(request.locales)
    return OutputChecks(
        request.effective_mode, product_mask=mask, overlaid=request.rerouted_locales
    )


def callback_secret(block_name: str) -> str | None:
    """The completion callback's signing secret: a Prefect Secret block, else the environment."""
    if block_name:
        from prefect.blocks.system import Secret

        return str(Secret.load(block_name).get())  # type: ignore[union-attr]
    return os.environ.get("TRANSCREATE_CALLBACK_SECRET") or None


def prefect_global_limit(name: str) -> int | None:
    """The size of the Prefect global concurrency limit ``name``; None when there is none (or it
    is switched off). Looked up once per run: taking a slot costs two API calls per model call,
    paid only when the limit exists."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return None
    return int(limit.limit) if limit.active else None


def _prefect_slot(name: str) -> Callable[[], Any]:
    from prefect.concurrency.sync import concurrency

    @contextmanager
    def slot() -> Iterator[None]:
        with concurrency(name, occupy=1, strict=False):
            yield

    return slot
