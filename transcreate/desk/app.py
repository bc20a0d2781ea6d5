"""The campaign desk's web application (Starlette, server-rendered; one small script polls the
progress). `make_app(root)` serves the desk at ``/`` and the root's files (galleries, images,
manifests) everywhere else, read-only and confined to the root, as `transcreate serve` always did.

Security: every form carries a token derived from the desk's secret, and a POST whose Origin is
another site is refused; uploads are capped before they are read; off loopback the desk asks for
the token in ``TRANSCREATE_DESK_TOKEN`` (`serve` refuses to listen elsewhere without one); the
desk's own folder (inputs, state) is never served as files.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, unquote, urlsplit

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from transcreate.compose.fonts import ARABIC, CHINESE, DEVANAGARI, KHMER, LATIN, THAI, font_path
from transcreate.desk import review, runs
from transcreate.desk.share import DAYS, desk_secret, opened, sign
from transcreate.desk.store import FOLDER, Desk, DeskCampaign
from transcreate.desk.views import DISPLAY_UNITS, campaign_context, gallery, home_context, zip_of
from transcreate.errors import CampaignError
from transcreate.images import MAX_BYTES
from transcreate.inputs import MAX_CAMPAIGN_BYTES, pasted_rows
from transcreate.locales import SUPPORTED_LOCALES
from transcreate.request import BackendName, ModeChoice
from transcreate.serve import CONTENT_TYPES, confined_path
from transcreate.sizes import BASE, PRESETS

MAX_UPLOAD = MAX_BYTES + MAX_CAMPAIGN_BYTES + 64 * 1024  # an image, a sheet and the form
PAGE_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'self'; "
    "font-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FILE_POLICY = (
    "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TOKEN_COOKIE = "transcreate_desk"
SHARED = (".png", ".jpg", ".jpeg", ".webp")  # what a share link opens: the creatives only
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
_SCRIPT = Path(__file__).with_name("desk.js")


def make_app(root: Path, *, token: str | None = None, secret: str | None = None) -> Starlette:
    """The desk over ``root`` (made if missing). ``token``: what a browser must present (off
    loopback); ``secret``: what form tokens and share links are signed with (by default one kept
    in the desk's folder)."""
    desk = Desk(root)
    key = desk_secret(desk.folder, secret)
    form_token = hmac.new(key, b"desk-form", hashlib.sha256).hexdigest()

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        response = _TEMPLATES.TemplateResponse(
            request, name, {"csrf": form_token, **context}, status_code=status
        )
        return _secured(response, PAGE_POLICY)

    async def checked_form(request: Request) -> Any:
        """The POSTed form, after the checks every POST gets: size, origin, form token."""
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_UPLOAD:
            raise _Refused(413, f"the upload is over {MAX_UPLOAD // (1024 * 1024)} MB")
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise _Refused(403, "a form from another site is refused")
        form = await request.form(max_files=2, max_fields=64, max_part_size=MAX_CAMPAIGN_BYTES)
        if not hmac.compare_digest(str(form.get("csrf", "")), form_token):
            raise _Refused(403, "the page is out of date; reload it and try again")
        return form

    def campaign_or_404(request: Request) -> DeskCampaign:
        found = desk.get(request.path_params["ident"])
        if found is None:
            raise _Refused(404, "no such campaign")
        return found

    async def home(request: Request) -> Response:
        return page(request, "home.html", home_context(desk))

    async def create(request: Request) -> Response:
        form = await checked_form(request)
        image, sheet = form.get("image"), form.get("campaign")
        rows = str(form.get("rows") or "")
        problem = None
        if not (isinstance(sheet, UploadFile) and sheet.filename) and not rows.strip():
            problem = "choose the campaign sheet (.csv or .xlsx), or paste its rows"
        if problem is None:
            try:
                if isinstance(sheet, UploadFile) and sheet.filename:
                    sheet_part = (sheet.filename, await _read(sheet, MAX_CAMPAIGN_BYTES, "sheet"))
                else:  # checked and capped as the flow's pasted rows are
                    sheet_part = ("pasted-rows.csv", pasted_rows(rows).data)
                # none: every row brings its own (an image column, a product feed's image_link)
                image_part = None
                if isinstance(image, UploadFile) and image.filename:
                    image_part = (image.filename, await _read(image, MAX_BYTES, "base image"))
                made = desk.create(str(form.get("name") or ""), image_part, sheet_part)
            except CampaignError as error:
                problem = str(error)
            else:
                return RedirectResponse(f"/_desk/c/{made.id}", status_code=303)
        context = {**home_context(desk), "problem": problem, "rows": rows}
        return page(request, "home.html", context, status=400)

    async def show(request: Request) -> Response:
        campaign = campaign_or_404(request)
        context = campaign_context(desk, campaign)
        context["problem"] = request.query_params.get("problem", "")[:300] or None
        context["reviewer"] = unquote(request.cookies.get(REVIEWER_COOKIE, ""))[:80]
        made = request.query_params.get("share", "")
        granted = opened(key, made) if made else None
        if granted is not None and granted[0] == campaign.id:
            context["share"] = {
                "url": f"{request.base_url}_desk/s/{made}",
                "until": datetime.datetime.fromtimestamp(granted[1], datetime.UTC),
            }
        return page(request, "campaign.html", context)

    async def correct(request: Request) -> Response:
        campaign = campaign_or_404(request)
        form = await checked_form(request)
        try:
            desk.replace_sheet(campaign, str(form.get("rows") or ""))
        except CampaignError as error:
            context = {**campaign_context(desk, campaign), "problem": str(error)}
            return page(request, "campaign.html", context, status=400)
        return RedirectResponse(f"/_desk/c/{campaign.id}", status_code=303)

    async def run(request: Request) -> Response:
        campaign = campaign_or_404(request)
        form = await checked_form(request)
        if campaign.status == "running":
            return RedirectResponse(f"/_desk/c/{campaign.id}", status_code=303)
        locales = [tag for tag in form.getlist("locale") if tag in SUPPORTED_LOCALES]
        offered = {BASE, *PRESETS, *DISPLAY_UNITS}
        sizes = [name for name in form.getlist("size") if name in offered]
        problem = None
        if not locales:
            problem = "choose at least one language"
        elif not sizes:
            problem = "choose at least one size"
        elif desk.preview(campaign).usable == 0:
            problem = "no row of the sheet can be made yet; correct the rows marked in red"
        if problem:
            context = {**campaign_context(desk, campaign), "problem": problem}
            return page(request, "campaign.html", context, status=400)
        campaign.locales, campaign.sizes = locales, sizes
        campaign.options = _settings(form)
        runs.start(desk, campaign)
        return RedirectResponse(f"/_desk/c/{campaign.id}", status_code=303)

    async def judge(request: Request) -> Response:
        """A reviewer's decision on one creative: approve, or reject with a note."""
        campaign = campaign_or_404(request)
        form = await checked_form(request)
        by = str(form.get("by") or "")
        decision = {"approve": "approved", "reject": "rejected"}.get(str(form.get("decision")))
        try:
            review.decide(
                desk,
                campaign,
                str(form.get("key")),
                decision or "",
                str(form.get("note") or ""),
                by,
            )
        except CampaignError as error:
            return _reviewed(campaign, str(form.get("key")), by, str(error))
        return _reviewed(campaign, str(form.get("key")), by)

    async def remake(request: Request) -> Response:
        """A reviewer's corrected copy for one creative, made again at once."""
        campaign = campaign_or_404(request)
        form = await checked_form(request)
        by = str(form.get("by") or "")
        if campaign.status == "running":
            return _reviewed(campaign, "", by, "wait for the run to end, then correct")
        copy = {role: str(form.get(role) or "") for role in review.CORRECTABLE}
        try:
            if not " ".join(by.split()):
                raise CampaignError("write your name, so the correction says who made it")
            review.correct(desk, campaign, str(form.get("key")), copy, by)
        except CampaignError as error:
            return _reviewed(campaign, str(form.get("key")), by, str(error))
        runs.start(desk, campaign)
        return _reviewed(campaign, "", by)

    async def share_link(request: Request) -> Response:
        """A signed, expiring link to the campaign's creatives, read-only, for anyone."""
        campaign = campaign_or_404(request)
        form = await checked_form(request)
        days = int(form.get("days") or 7) if str(form.get("days") or "7").isdigit() else 7
        token = sign(key, campaign.id, days if days in DAYS else 7)
        return RedirectResponse(f"/_desk/c/{campaign.id}?share={token}#share", status_code=303)

    def shared_campaign(request: Request) -> tuple[DeskCampaign, str, int]:
        granted = opened(key, request.path_params["token"])
        found = desk.get(granted[0]) if granted else None
        if granted is None or found is None:
            raise _Refused(404, "this link is not valid or has expired; ask for a new one")
        return found, request.path_params["token"], granted[1]

    async def shared(request: Request) -> Response:
        campaign, token, expires = shared_campaign(request)
        context = {
            "campaign": campaign,
            "gallery": gallery(desk, campaign, files=f"/_desk/s/{token}/f"),
            "token": token,
            "expires": datetime.datetime.fromtimestamp(expires, datetime.UTC),
        }
        response = _TEMPLATES.TemplateResponse(request, "share.html", context)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        return _secured(response, PAGE_POLICY)

    async def shared_file(request: Request) -> Response:
        campaign, _, _ = shared_campaign(request)
        output = desk.output(campaign).resolve()
        target = confined_path(output, "/" + request.path_params["path"])
        if target is None or not target.is_file() or target.suffix.lower() not in SHARED:
            raise _Refused(404, "no such file")
        kind = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        return _secured(FileResponse(target, media_type=kind), FILE_POLICY)

    async def shared_zip(request: Request) -> Response:
        campaign, _, _ = shared_campaign(request)
        return await _download(campaign, request.query_params.get("size") or None)

    async def _download(campaign: DeskCampaign, size: str | None) -> Response:
        path = zip_of(desk, campaign, size)
        if path is None:
            raise _Refused(404, "nothing has been made yet")
        name = f"{campaign.id}{'-' + size if size else ''}.zip"
        return FileResponse(
            path,
            media_type="application/zip",
            filename=name,
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    async def progress(request: Request) -> Response:
        campaign = campaign_or_404(request)
        body = {
            "status": campaign.status,
            "done": campaign.done,
            "total": campaign.total,
            "counts": campaign.counts,
            "error": campaign.error,
            "prefect": campaign.flow_run_url,
        }
        return _secured(JSONResponse(body, headers={"Cache-Control": "no-store"}), PAGE_POLICY)

    async def download(request: Request) -> Response:
        campaign = campaign_or_404(request)
        return await _download(campaign, request.query_params.get("size") or None)

    async def script(request: Request) -> Response:
        response = Response(_SCRIPT.read_bytes(), media_type="text/javascript; charset=utf-8")
        return _secured(response, PAGE_POLICY)

    async def font(request: Request) -> Response:
        """The compositor's own faces, so Thai, Chinese, Arabic, Hindi and Khmer copy reads on any
        computer (Japanese, Korean and Traditional Chinese: the browser's own CJK fonts)."""
        script = request.path_params["script"]
        if script not in (LATIN, THAI, CHINESE, ARABIC, DEVANAGARI, KHMER):  # pip's, small
            raise _Refused(404, "no such font")
        path = font_path(script).path
        kind = "font/otf" if path.suffix.lower() == ".otf" else "font/ttf"
        headers = {"Cache-Control": "public, max-age=86400"}
        return _secured(FileResponse(path, media_type=kind, headers=headers), PAGE_POLICY)

    async def files(request: Request) -> Response:
        path = request.path_params.get("path", "")
        first = path.split("/", 1)[0]
        target = confined_path(desk.root, "/" + path)
        if first == FOLDER or target is None or not target.is_file():
            raise _Refused(404, "no such file")
        kind = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        response = FileResponse(target, media_type=kind, headers={"Cache-Control": "no-cache"})
        return _secured(response, FILE_POLICY)

    def guarded(endpoint: Callable[[Request], Awaitable[Response]]) -> Any:
        async def handle(request: Request) -> Response:
            public = request.url.path.startswith("/_desk/s/")  # a share link is its own key
            if token and not public and not _signed_in(request, token):
                if request.url.path == "/_desk/login" and request.method == "POST":
                    return await _login(request, token)
                return _secured(
                    _TEMPLATES.TemplateResponse(request, "login.html", {}, status_code=401),
                    PAGE_POLICY,
                )
            try:
                return await endpoint(request)
            except _Refused as refused:
                return _secured(
                    PlainTextResponse(refused.message, status_code=refused.status), PAGE_POLICY
                )

        return handle

    routes = [
        Route("/", guarded(home)),
        Route("/_desk/login", guarded(home), methods=["POST"]),
        Route("/_desk/campaigns", guarded(create), methods=["POST"]),
        Route("/_desk/c/{ident}", guarded(show)),
        Route("/_desk/c/{ident}/rows", guarded(correct), methods=["POST"]),
        Route("/_desk/c/{ident}/run", guarded(run), methods=["POST"]),
        Route("/_desk/c/{ident}/review", guarded(judge), methods=["POST"]),
        Route("/_desk/c/{ident}/correct", guarded(remake), methods=["POST"]),
        Route("/_desk/c/{ident}/share", guarded(share_link), methods=["POST"]),
        Route("/_desk/s/{token}", guarded(shared)),
        Route("/_desk/s/{token}/download.zip", guarded(shared_zip)),
        Route("/_desk/s/{token}/f/{path:path}", guarded(shared_file)),
        Route("/_desk/c/{ident}/progress.json", guarded(progress)),
        Route("/_desk/c/{ident}/download.zip", guarded(download)),
        Route("/_desk/desk.js", guarded(script)),
        Route("/_desk/fonts/{script}", guarded(font)),
        Route("/{path:path}", guarded(files), methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes)
    app.state.desk = desk
    return app


REVIEWER_COOKIE = "transcreate_reviewer"
#: The engineers' settings the run form offers (under "More settings"), each with its choices;
#: anything else keeps the engine's default.
SETTINGS: dict[str, tuple[str, ...]] = {
    "backend": get_args(BackendName),
    "mode": get_args(ModeChoice),
    "layout": ("auto", "exact"),
}


def _settings(form: Any) -> dict[str, Any]:
    """The settings a run form chose, only the known ones with a known value."""
    chosen: dict[str, Any] = {
        name: str(form.get(name)) for name, allowed in SETTINGS.items() if form.get(name) in allowed
    }
    for flag in ("checks", "translate"):
        if form.get(flag) == "on":
            chosen[flag] = True
    return chosen


def _reviewed(campaign: DeskCampaign, key: str, by: str, problem: str | None = None) -> Response:
    """Back to the campaign, at the creative, with the reviewer's name kept for the next one."""
    target = f"/_desk/c/{campaign.id}" + (f"?problem={quote(problem)}" if problem else "")
    response = RedirectResponse(target + (f"#c-{key[:12]}" if key else ""), status_code=303)
    name = " ".join(by.split())[:80]
    if name:
        response.set_cookie(REVIEWER_COOKIE, quote(name), httponly=True, samesite="strict")
    return response


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _secured(response: Response, policy: str) -> Response:
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _signed_in(request: Request, token: str) -> bool:
    presented = request.cookies.get(TOKEN_COOKIE, "")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        presented = header[7:]
    return hmac.compare_digest(presented.encode(), token.encode())


async def _login(request: Request, token: str) -> Response:
    form = await request.form(max_files=0, max_fields=4)
    given = str(form.get("token", ""))
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _secured(
            _TEMPLATES.TemplateResponse(
                request, "login.html", {"problem": "that is not the desk's token"}, status_code=401
            ),
            PAGE_POLICY,
        )
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    return response


async def _read(upload: UploadFile, limit: int, what: str) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise CampaignError(f"the {what} is over {limit:,} bytes; the limit is {limit:,}")
    return data
