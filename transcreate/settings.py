"""Backend settings: provider conventions, an optional config file, and where keys come from.

Precedence, lowest first: built-in defaults → the config file (``transcreate.toml`` in the working
folder, or the file named by ``TRANSCREATE_CONFIG``) → the provider's own environment variables
(``DASHSCOPE_BASE_URL`` …). API keys come only from the environment or a Prefect Secret block named
in the config file (``api_key_secret``); never from flow parameters or the config file itself.
"""

from __future__ import annotations

import os
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transcreate.errors import SetupError, StorageError

CONFIG_FILE = "transcreate.toml"
REVIEW_POLL_SECONDS = 10  # how often a paused run checks for the reviewer's answer, by default


@dataclass(frozen=True)
class ModelSettings:
    """Where and how to reach one provider's model. ``api_key`` never appears in repr or logs."""

    provider: str
    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 120.0  # seconds for one model call; image edits take several
    connect_timeout: float = 10.0
    # Simultaneous calls to this endpoint from this process. None: the run's concurrency decides;
    # a number set in the config file can only lower it (see transcreate.wiring).
    max_concurrency: int | None = None
    max_side: int = 1024  # the seed's advice: scale larger inputs down before upload
    max_upload_bytes: int = 10 * 1024 * 1024
    max_result_bytes: int = 30 * 1024 * 1024
    cache_dir: Path | None = None  # None: no result cache
    cache_ttl: float = 24 * 3600.0  # seconds a cached result stays valid
    options: Mapping[str, Any] = field(default_factory=dict)  # provider-specific settings
    #: the proxy the environment names for the endpoint (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, less
    #: NO_PROXY); it changes the route, not the result, so it is no part of the identity
    proxy: str | None = None


@dataclass(frozen=True)
class Provider:
    key_variable: str
    url_variable: str
    base_url: str
    model: str
    model_variable: str | None = None


PROVIDERS: dict[str, Provider] = {
    # Model Studio's mainland endpoint; the international one is
    # https://dashscope-intl.aliyuncs.com/api/v1 (set DASHSCOPE_BASE_URL).
    "dashscope": Provider(
        "DASHSCOPE_API_KEY",
        "DASHSCOPE_BASE_URL",
        "https://dashscope.aliyuncs.com/api/v1",
        "qwen-image-edit-plus",
    ),
    # Dify Cloud; a self-hosted Dify serves the same API under http://<host>/v1.
    "dify": Provider("DIFY_API_KEY", "DIFY_BASE_URL", "https://api.dify.ai/v1", "workflow"),
    # Any OpenAI-compatible /v1/images/edits server, e.g. one serving Qwen-Image-Edit-2509.
    "openai": Provider(
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "https://api.openai.com/v1",
        "Qwen/Qwen-Image-Edit-2509",
        "OPENAI_IMAGE_MODEL",
    ),
}

# Settings a config file may give per backend, with their types.
_NUMBERS = {
    "timeout": float,
    "connect_timeout": float,
    "max_concurrency": int,
    "max_side": int,
    "max_upload_bytes": int,
    "max_result_bytes": int,
    "cache_ttl": float,
}


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The config file as a dict ({} when there is none); a broken file is a SetupError."""
    chosen = path or os.environ.get("TRANSCREATE_CONFIG")
    file = Path(chosen) if chosen else Path(CONFIG_FILE)
    if not file.is_file():
        if chosen:
            raise SetupError(f"{file}: config file not found (from TRANSCREATE_CONFIG)")
        return {}
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SetupError(f"{file}: not a valid TOML config file: {error}") from None


def model_settings(name: str, config: dict[str, Any] | None = None) -> ModelSettings:
    """Settings for a model backend from defaults, the config file and the environment."""
    provider = PROVIDERS[name]
    section: dict[str, Any] = dict((config or load_config()).get("backends", {}).get(name, {}))
    if "api_key" in section:
        raise SetupError(
            f"config file, [backends.{name}]: api_key must not be written in a file; set "
            f"{provider.key_variable} or name a Prefect Secret block in api_key_secret"
        )
    file_url, file_model = section.pop("base_url", None), section.pop("model", None)
    secret_block, cache_dir = section.pop("api_key_secret", None), section.pop("cache_dir", None)
    numbers = {key: kind(section.pop(key)) for key, kind in _NUMBERS.items() if key in section}
    api_key = os.environ.get(provider.key_variable) or _secret(secret_block)
    if not api_key:
        raise SetupError(
            f"backend {name!r} needs an API key: set {provider.key_variable}, or name a Prefect "
            f"Secret block in {CONFIG_FILE} under [backends.{name}] api_key_secret"
        )
    cache_dir = cache_dir or os.environ.get("TRANSCREATE_CACHE_DIR")
    base_url = os.environ.get(provider.url_variable) or file_url or provider.base_url
    return ModelSettings(
        provider=name,
        base_url=base_url,
        proxy=environment_proxy(base_url),
        model=os.environ.get(provider.model_variable or "") or file_model or provider.model,
        api_key=api_key,
        cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
        options=section,  # what is left is the provider's own (Dify variable names …)
        **numbers,
    )


#: The translation backend: any OpenAI-compatible chat endpoint; by default DashScope's
#: compatible mode with Qwen-MT (the international endpoint is
#: https://dashscope-intl.aliyuncs.com/compatible-mode/v1).
TRANSLATION = Provider(
    "TRANSCREATE_TRANSLATION_API_KEY",
    "TRANSCREATE_TRANSLATION_BASE_URL",
    "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "qwen-mt-flash",
    "TRANSCREATE_TRANSLATION_MODEL",
)


def translation_settings(config: dict[str, Any] | None = None) -> ModelSettings:
    """The ``[translation]`` section of the config file with the environment over it. The key:
    TRANSCREATE_TRANSLATION_API_KEY, or DASHSCOPE_API_KEY for DashScope's own endpoint."""
    section: dict[str, Any] = dict((config or load_config()).get("translation", {}))
    if "api_key" in section:
        raise SetupError(
            "config file, [translation]: api_key must not be written in a file; set "
            f"{TRANSLATION.key_variable} or name a Prefect Secret block in api_key_secret"
        )
    file_url, file_model = section.pop("base_url", None), section.pop("model", None)
    secret_block = section.pop("api_key_secret", None)
    section.pop("glossary", None)  # read by the root with the run's other inputs
    numbers = {key: kind(section.pop(key)) for key, kind in _NUMBERS.items() if key in section}
    base_url = os.environ.get(TRANSLATION.url_variable) or file_url or TRANSLATION.base_url
    dashscope = urllib.parse.urlsplit(base_url).hostname or ""
    api_key = (
        os.environ.get(TRANSLATION.key_variable)
        or (os.environ.get("DASHSCOPE_API_KEY") if dashscope.endswith("aliyuncs.com") else "")
        or _secret(secret_block)
    )
    if not api_key:
        raise SetupError(
            f"--translate needs the translation backend's API key: set "
            f"{TRANSLATION.key_variable} (or DASHSCOPE_API_KEY for DashScope's endpoint), or "
            f"name a Prefect Secret block in {CONFIG_FILE} under [translation] api_key_secret"
        )
    return ModelSettings(
        provider="translation",
        base_url=base_url,
        proxy=environment_proxy(base_url),
        model=os.environ.get(TRANSLATION.model_variable or "") or file_model or TRANSLATION.model,
        api_key=api_key,
        timeout=numbers.pop("timeout", 60.0),
        options=section,  # what is left is sent with every request (temperature …)
        **numbers,
    )


@dataclass(frozen=True)
class StorageSettings:
    """How stored outputs are linked: where a local folder is served (`transcreate serve`), and an
    S3 bucket's public base URL or how long its presigned links last."""

    output_base_url: str | None = None
    public_base_url: str | None = None
    presign_seconds: int = 7 * 24 * 3600


def storage_settings(config: dict[str, Any]) -> StorageSettings:
    """``[storage]`` of the config file, under ``TRANSCREATE_OUTPUT_BASE_URL``,
    ``TRANSCREATE_PUBLIC_BASE_URL`` and ``TRANSCREATE_PRESIGN_SECONDS`` when they are set."""
    section: dict[str, Any] = dict(config.get("storage", {}))
    served = os.environ.get("TRANSCREATE_OUTPUT_BASE_URL") or section.get("output_base_url")
    if served and not str(served).startswith(("http://", "https://")):
        raise StorageError(
            f"output_base_url {served!r}: expected the served folder's http(s) address, e.g. "
            "http://127.0.0.1:8765/"
        )
    public = os.environ.get("TRANSCREATE_PUBLIC_BASE_URL") or section.get("public_base_url")
    for name, value in (("output_base_url", served), ("public_base_url", public)):
        # Every manifest, gallery and artifact link starts with it: a password in it would be
        # in every one of them.
        if value and urllib.parse.urlsplit(str(value)).password is not None:
            raise StorageError(
                f"{name}: it holds a user name and password, which every link would carry; give "
                "the address alone and protect the server another way"
            )
    presign = os.environ.get("TRANSCREATE_PRESIGN_SECONDS") or section.get("presign_seconds")
    return StorageSettings(
        output_base_url=str(served) if served else None,
        public_base_url=str(public) if public else None,
        presign_seconds=int(presign) if presign else StorageSettings.presign_seconds,
    )


def prefect_api_url() -> str | None:
    """The Prefect server runs are sent to (``PREFECT_API_URL``); None: runs stay in-process."""
    return os.environ.get("PREFECT_API_URL") or None


@dataclass(frozen=True)
class DaskCluster:
    """Where a campaign's render batches go on Dask: an existing scheduler's address, or a local
    cluster of this many worker processes."""

    address: str | None
    workers: int


def dask_cluster() -> DaskCluster:
    """``TRANSCREATE_DASK_ADDRESS`` (``tcp://scheduler:8786``), else a local cluster of
    ``TRANSCREATE_DASK_WORKERS`` processes (one a core by default)."""
    workers = os.environ.get("TRANSCREATE_DASK_WORKERS")
    return DaskCluster(
        address=os.environ.get("TRANSCREATE_DASK_ADDRESS") or None,
        workers=int(workers) if workers else (os.cpu_count() or 2),
    )


ALLOW_PRIVATE_VARIABLE = "TRANSCREATE_ALLOW_PRIVATE_INPUTS"
ALLOW_PRIVATE_CALLBACKS_VARIABLE = "TRANSCREATE_ALLOW_PRIVATE_CALLBACKS"


def allowed_private_inputs() -> frozenset[str]:
    """Hosts of the user's own network whose input links may be fetched, from
    ``TRANSCREATE_ALLOW_PRIVATE_INPUTS`` (``files.intranet,10.0.0.5``; ``1`` allows any: "*")."""
    return _allowed_hosts(ALLOW_PRIVATE_VARIABLE)


def allowed_private_callbacks() -> frozenset[str]:
    """Hosts of the user's own network a completion callback may be sent to (an internal webhook
    receiver), from ``TRANSCREATE_ALLOW_PRIVATE_CALLBACKS``, written as the inputs' opt-in."""
    return _allowed_hosts(ALLOW_PRIVATE_CALLBACKS_VARIABLE)


def _allowed_hosts(variable: str) -> frozenset[str]:
    value = os.environ.get(variable, "").strip()
    if value.lower() in ("1", "true", "yes", "*"):
        return frozenset({"*"})
    return frozenset(host.strip().lower() for host in value.split(",") if host.strip())


def review_poll_seconds() -> int:
    """How often a paused run asks whether its reviewer has answered, in seconds
    (``TRANSCREATE_REVIEW_POLL_SECONDS``, default 10): the run goes on at most this long after
    Submit, and each look is one call to the Prefect API for as long as the review waits."""
    value = os.environ.get("TRANSCREATE_REVIEW_POLL_SECONDS", "").strip()
    try:
        return max(1, int(value)) if value else REVIEW_POLL_SECONDS
    except ValueError:
        raise SetupError(
            f"TRANSCREATE_REVIEW_POLL_SECONDS must be a whole number of seconds, not {value!r}"
        ) from None


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, read as curl and httpx read it: the scheme's
    (``HTTPS_PROXY``, ``HTTP_PROXY``) or ``ALL_PROXY``, unless ``NO_PROXY`` covers its host."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def default_cache_dir() -> Path:
    """Where model results are cached: ``$XDG_CACHE_HOME/transcreate/model-results``."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "transcreate" / "model-results"


def _secret(block_name: str | None) -> str:
    if not block_name:
        return ""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(block_name).get()  # type: ignore[union-attr]
    except ValueError as error:
        raise SetupError(f"Prefect Secret block {block_name!r} cannot be loaded: {error}") from None
    return str(value)
