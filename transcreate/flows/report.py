"""What a run says to a campaign manager in the Prefect UI: log lines, state messages, artifacts.

Pure text builders: the flows pass in counts, links and problems, and post what comes back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from transcreate.translation.fill import Piece

# The manifest's statuses in a manager's words, in the order a summary names them.
STATUS_WORDS: dict[str, str] = {
    "ok": "made",
    "cached": "already made earlier",
    "needs_review": "to check by eye",
    "failed": "failed",
    "blocked": "blocked",
    "skipped": "skipped",
}


def counts_in_words(counts: Mapping[str, int]) -> str:
    """``{"ok": 20, "failed": 1, "skipped": 0}`` → ``"20 made, 1 failed"``; zeros are left out."""
    named = [
        f"{counts[status]} {words}"
        for status, words in STATUS_WORDS.items()
        if counts.get(status, 0)
    ]
    named += [f"{count} {status}" for status, count in counts.items() if status not in STATUS_WORDS]
    return ", ".join(named) if named else "nothing to make"


def whole_percent(done: int, total: int) -> int:
    """Percent finished, rounded down: 100 only when everything is done."""
    return 100 if total <= 0 else (100 * done) // total


def progress_line(done: int, total: int, failed: int) -> str:
    """``"120/220 done, 3 failed"``."""
    return f"{done}/{total} done, {failed} failed"


def problem_sentence(error: Exception) -> str:
    """The one sentence a manager reads when their input is refused (a run's state message)."""
    if isinstance(error, ValidationError):
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'the form'}: "
            f"{problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors()
        )
        return f"The run's settings were refused ({reasons}); correct them and run again."
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def rejected_rows_markdown(
    campaign: str, problems: Sequence[str], *, strict: bool, rows: int | None = None
) -> str:
    """Every problem of the sheet's rejected rows, one per line (a row may have several), and
    what happens to them; ``rows``: how many rows they are."""
    outcome = (
        "Strict mode is on, so nothing was made: correct these rows (or turn off *strict* under "
        "*advanced*) and run again."
        if strict
        else "The other rows were made; these rows were skipped. Correct them and run again: "
        "rows already made are found again, not redone."
    )
    counted = rows if rows is not None else len(problems)
    lines = [f"# {_text(campaign)}: {counted} row(s) rejected", "", outcome, ""]
    lines += [f"- {_text(problem)}" for problem in problems]
    return "\n".join(lines) + "\n"


def failure_markdown(sentence: str, details: Sequence[str] = ()) -> str:
    """Why a run could not start, for its artifacts."""
    lines = ["# The run could not start", "", _text(sentence)]
    if details:
        lines += ["", *(f"- {_text(detail)}" for detail in details)]
    return "\n".join(lines) + "\n"


def results_markdown(
    campaign: str,
    counts: Mapping[str, int],
    *,
    contact_sheet: str,
    manifest: str,
    gallery: str | None,
    shown: int,
    variants: int,
    failures: Sequence[str] = (),
) -> str:
    """The run's outcome in words, with the contact sheet inline and links to open everything."""
    lines = [f"# {_text(campaign)}", "", f"**{counts_in_words(counts)}.**", ""]
    if gallery:
        lines.append(f"- {link('Open the gallery', gallery)}: every image with its status")
    lines.append(f"- {link('Download the manifest (CSV)', manifest)}")
    lines += [
        "",
        f"Contact sheet: locales across, the first {shown} of {variants} variants down.",
        "",
        f"![contact sheet of {_text(campaign)}]({_url(contact_sheet)})",
    ]
    if failures:
        lines += ["", "## Failed", "", *(f"- {_text(failure)}" for failure in failures)]
    return "\n".join(lines) + "\n"


def review_markdown(
    campaign: str,
    *,
    contact_sheet: str,
    gallery: str | None,
    counts: Mapping[str, int],
    timeout_hours: float,
    translations: Sequence[Piece] = (),
) -> str:
    """What a reviewer looks at and how to decide, for the artifact and the Resume dialog;
    machine translations beside their source, to read before approving."""
    lines = [
        f"# {_text(campaign)} is waiting for your review",
        "",
        f"**{counts_in_words(counts)}.** Nothing is published until you approve.",
        "",
        "1. Look at the images:",
    ]
    if gallery:
        lines.append(f"   {link('the gallery', gallery)} (every image, with its status), and")
    lines += [
        f"   {link('the contact sheet', contact_sheet)}.",
        "2. Decide: press **Resume** at the top of this run's page (or **⋮ → Resume**), choose "
        "*approve* (publish to the destination) or *reject* (publish nothing), give your name "
        "and, if you like, a note, and submit.",
        "",
        f"Without a decision the run stops waiting after {timeout_hours:g} hours.",
    ]
    machine = [piece for piece in translations if piece.origin == "machine"]
    if machine:
        lines += [
            "",
            "## Machine translations to read",
            "",
            "Approving publishes them as they are. To correct one, reject, correct "
            "`translations.csv` in the campaign's folder and run again with it as `translations`.",
            "",
            "| Variant | Language | Field | Source | Translation |",
            "| --- | --- | --- | --- | --- |",
            *(
                f"| {_cell(p.variant)} | {_cell(p.locale)} | {_cell(p.field)} | "
                f"{_cell(p.source)} | {_cell(p.text)}"
                + (f" ({_cell(p.problem)})" if p.problem else "")
                + " |"
                for p in machine
            ),
        ]
    return "\n".join(lines) + "\n"


def link(text: str, url: str) -> str:
    """A markdown link whose text and address cannot break out of it."""
    return f"[{_text(text)}]({_url(url)})"


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _text(text: str) -> str:
    # Spreadsheet text is data: no markdown or HTML of its own in the UI.
    escaped = text.replace("\\", "\\\\")
    for character in "[]()*_`<>#|!":
        escaped = escaped.replace(character, "\\" + character)
    return escaped.replace("\n", " ")


def _cell(text: str) -> str:
    return _text(text)
