"""What a run is asked to do: one request model for the CLI, the flow's form and the inbox.

The fields come in two groups. `RunInputs` are what a campaign manager gives (the sheet, the
image, the locales, where results go): the flow shows them at the top of its form. `RunOptions`
are the engineer's settings, each with a default and a help text: the flow folds them into one
collapsed "advanced" object. `RunRequest` is both groups together, flat, as the CLI and the
pipeline read it; the CLI's options, defaults and help are generated from these fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from transcreate.editors import Mode, check_mode, default_mode
from transcreate.errors import SetupError
from transcreate.instructions import InstructionLanguage, model_may_misdraw
from transcreate.locales import DEFAULT_LOCALES, parse_locale_list
from transcreate.sizes import BASE, PRESET_NAMES, parse_sizes

# The backends and modes a form or a command line may name (tests keep these in step with the
# editor registry).
BackendName = Literal["local", "dashscope", "dify", "openai"]
ModeChoice = Literal["auto", "overlay", "model", "model+overlay"]


class RunInputs(BaseModel):
    """What to localize and where the results go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign: str = Field(
        default="",
        description="Campaign spreadsheet (.csv or .xlsx): a path on the worker (relative to the "
        "folder the deployment was made from), an s3:// URI or an https:// link",
    )
    rows: str = Field(
        default="",
        description="Or paste the campaign's rows here (copied from Excel or Google Sheets, with "
        "the header row first); used when no campaign file is given. Up to about 500 KB of text "
        "(Prefect's limit on a run's parameters, less for Thai or Chinese, which its JSON "
        "writes as escapes): give a bigger sheet as a file or a link",
        json_schema_extra={"format": "text"},
    )
    image: str = Field(
        default="",
        description="Base creative (PNG, JPEG or WebP): a path on the worker, an s3:// URI or an "
        "https:// link; rows with an image column (a product feed's image_link) use their own, "
        "so it may stay empty when every row has one",
    )
    locales: tuple[str, ...] = Field(
        default=DEFAULT_LOCALES, description="Target locales, e.g. id, th, zh, en"
    )
    out: str = Field(
        default="out",
        description="Where results go: a folder on the worker or s3://bucket/prefix",
    )
    translate: bool = Field(
        default=False,
        description="Translate the copy a locale lacks (headline, button) from the source column "
        "with the translation backend ([translation] in transcreate.toml); machine copy is "
        "flagged for review until approved",
    )

    @field_validator("out")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; give a folder or s3://bucket/prefix")
        return value

    @field_validator("campaign", "image", "out")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        # no file system or URL takes them; the OS would answer with a bare ValueError
        if any(ord(character) < 32 for character in value):
            raise ValueError("contains a control character (such as a NUL byte or a line break)")
        return value

    @field_validator("locales", mode="before")
    @classmethod
    def _split_locales(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_locale_list(value)
        return value

    @field_validator("locales")
    @classmethod
    def _check_locales(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        tags = parse_locale_list(" ".join(value))
        if not tags:
            raise ValueError("at least one locale is needed, e.g. id, th, zh, en")
        return tags


class RunOptions(BaseModel):
    """How to run: backend, limits, checks. Every field has a default that works on a laptop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: BackendName = Field(
        default="local",
        description="Who edits the images: local (built in, no GPU or key), dashscope, dify or "
        "openai (Qwen-Image-Edit over HTTP; needs the provider's key on the worker)",
    )
    mode: ModeChoice = Field(
        default="auto",
        description="Who sets the copy: overlay (the built-in compositor), model (the model "
        "draws it), model+overlay (the model edits, the compositor sets the copy exactly); auto "
        "= overlay for local, model for the others, but model+overlay for a language the model "
        "does not draw reliably (anything but Latin-script languages and Chinese)",
    )
    variations: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Scene variations per row for an A/B test, from the shipped looks (studio, "
        "sunlit, neon, motion, nature): each a variant <row>-<look> a model makes; a row's own "
        "variations column wins; 0: none",
    )
    looks: str = Field(
        default="",
        description="A file of your own named looks, one per line as name: direction (e.g. "
        "'beach: place the product on a sunny beach'), used in place of the shipped ones: the "
        "first `variations` of them, or all when variations is 0; a path, s3:// or https://",
    )
    max_calls: int = Field(
        default=0,
        ge=0,
        description="Refuse to start a run that would make more paid model calls than this "
        "(outputs already stored and identical edits are free); 0: no limit",
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Edits in flight at once (model calls, or local renders); a max_concurrency "
        "in transcreate.toml or a Prefect global concurrency limit can only lower it",
    )
    retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed model call")
    retry_wait: float = Field(
        default=1.0, ge=0, le=60, description="First wait before a retry, seconds (then doubled)"
    )
    deadline_minutes: float = Field(
        default=0,
        ge=0,
        le=7 * 24 * 60,
        description="Begin no edit and no retry later than this many minutes after the run "
        "starts (a rollout that must be out by a launch time): what is left is recorded as "
        "failed with the reason, and running the campaign again makes it; 0: no deadline",
    )
    strict: bool = Field(default=False, description="Stop before any edit if a row is rejected")
    checks: bool = Field(
        default=False,
        description="Read each output's copy back (OCR) and, for model edits, measure changes "
        "outside the copy area; failures become needs_review (needs tesseract)",
    )
    sizes: tuple[str, ...] = Field(
        default=(),
        description="Ad sizes to make, e.g. square, story, landscape, 728x90: "
        + ", ".join(PRESET_NAMES)
        + " or width x height in pixels (empty: the base creative's own size; base names it)",
        # The form offers the presets as choices and takes any WxH typed in.
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"type": "string", "enum": list(PRESET_NAMES)},
                    {"type": "string", "pattern": r"^\s*\d+\s*[xX×]\s*\d+\s*$"},
                ]
            }
        },
    )
    layout: Literal["auto", "exact"] = Field(
        default="auto",
        description="Where the built-in editor sets the copy: auto keeps it off the product "
        "(the row's position is the preferred zone); exact puts it exactly at the position",
    )
    outpaint: bool = Field(
        default=False,
        description="In mode model, ask the model to extend the photograph's scene into a size's "
        "new margins (outpainting) instead of keeping their blur; a product that comes back "
        "changed is flagged for review (the drift check)",
    )
    product_mask: str = Field(
        default="",
        description="An image, white or opaque where the product is: the copy never covers "
        "it and ad sizes are framed around it (empty: found automatically); a path or s3:// URI",
    )
    glossary: str = Field(
        default="",
        description="A CSV of brand and product names (a 'term' column, 'term:th' where a market "
        "writes one its own way): each is set on one line, never broken; a path, s3:// or https://",
    )
    source_locale: str = Field(
        default="",
        description="The language the sheet's bare copy columns are written in, and the one "
        "translated from (empty: en)",
    )
    translations: str = Field(
        default="",
        description="A reviewer's translations (the translations.csv or .xlf a run wrote, "
        "corrected): they become approved copy; a path, s3:// or https://",
    )
    allow_fallback: bool = Field(
        default=False,
        description="Accept copy that fell back to the default column for a locale without "
        "flagging it for review (a row's fallback column does the same for one row)",
    )
    sheet: str = Field(
        default="",
        description="The sheet of an .xlsx workbook to read (empty: the first, with a warning "
        "when there are more)",
    )
    instruction_language: InstructionLanguage = Field(
        default="auto",
        description="Language the model's instructions are written in (the copy inside them "
        "stays the locale's, quoted verbatim): zh, en, locale (each locale's own), or auto = "
        "Chinese for Qwen-Image-Edit, which documents Chinese and English prompts and reads "
        "Chinese in the fewest characters; English for other OpenAI-compatible models",
    )
    max_instruction_chars: int = Field(
        default=200, ge=20, le=4000, description="Longest instruction sent to a model"
    )
    max_image_mb: float = Field(default=5.0, gt=0, le=200, description="Largest base image, MB")
    policy: str = Field(
        default="",
        description="Policy file of blocked intents (empty: TRANSCREATE_POLICY or the shipped one)",
    )
    name: str = Field(default="", description="Campaign name (empty: the file name)")
    callback_url: str = Field(
        default="", description="Receives a signed JSON event when the run ends (empty: none)"
    )
    callback_secret_block: str = Field(
        default="",
        description="Prefect Secret block holding the callback's signing secret (empty: "
        "TRANSCREATE_CALLBACK_SECRET)",
    )

    @field_validator(
        "mode", "policy", "name", "callback_url", "callback_secret_block", mode="before"
    )
    @classmethod
    def _none_is_default(cls, value: Any, info: Any) -> Any:
        # Python callers and older parameter sets say None for "not given".
        if value is None:
            return "auto" if info.field_name == "mode" else ""
        return value

    @field_validator("source_locale")
    @classmethod
    def _check_source_locale(cls, value: str) -> str:
        if not value.strip():
            return ""
        tags = parse_locale_list(value)
        if len(tags) != 1:
            raise ValueError("is one locale, e.g. en")
        return tags[0]

    @field_validator("sizes", mode="before")
    @classmethod
    def _split_sizes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part for part in value.replace(";", ",").split(",") if part.strip())
        return value

    @field_validator("sizes")
    @classmethod
    def _check_sizes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(BASE if size is None else size.name for size in parse_sizes(",".join(value)))

    @property
    def size_names(self) -> tuple[str | None, ...]:
        """The run's sizes for ``jobs.expand``: names, None for the base's own size."""
        return tuple(None if name == BASE else name for name in self.sizes) or (None,)

    @model_validator(mode="after")
    def _check_mode(self) -> RunOptions:
        try:
            check_mode(self.backend, self.effective_mode)
        except SetupError as error:
            raise ValueError(str(error)) from None
        if (self.variations or self.looks.strip()) and self.backend == "local":
            raise ValueError(
                "variations are scene edits a model makes: choose a model backend (dashscope, "
                "dify or openai), or 0 variations"
            )
        return self

    @property
    def effective_mode(self) -> Mode:
        return default_mode(self.backend) if self.mode == "auto" else self.mode


class RunRequest(RunInputs, RunOptions):
    """A whole request: the inputs and the options, flat."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _check_campaign(self) -> RunRequest:
        if not self.campaign.strip() and not self.rows.strip():
            raise ValueError("give a campaign spreadsheet, or paste its rows")
        return self

    @classmethod
    def from_parts(cls, inputs: RunInputs, options: RunOptions) -> RunRequest:
        return cls(**inputs.model_dump(), **options.model_dump())

    def mode_for(self, locale: str) -> Mode:
        """The mode a locale's jobs run in: ``effective_mode``, but ``auto`` on a model backend
        has the compositor set copy in a script the model does not draw reliably
        (model+overlay: the model edits the scene, the compositor sets the copy)."""
        if self.mode == "auto" and self.backend != "local" and model_may_misdraw(locale):
            return "model+overlay"
        return self.effective_mode

    @property
    def rerouted_locales(self) -> frozenset[str]:
        """The run's locales whose mode is not the run's (mode auto: model+overlay)."""
        return frozenset(tag for tag in self.locales if self.mode_for(tag) != self.effective_mode)

    @property
    def misdrawn_locales(self) -> tuple[str, ...]:
        """The run's locales whose script Qwen-Image-Edit may draw wrong (Thai, Arabic …)."""
        return tuple(tag for tag in self.locales if model_may_misdraw(tag))

    @property
    def inputs(self) -> RunInputs:
        return RunInputs(**{name: getattr(self, name) for name in RunInputs.model_fields})

    @property
    def options(self) -> RunOptions:
        return RunOptions(**{name: getattr(self, name) for name in RunOptions.model_fields})
