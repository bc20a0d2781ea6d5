"""The rows a localize-campaign run leaves out, said in its log and in an artifact."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact

from transcreate.errors import CampaignError
from transcreate.flows.report import rejected_rows_markdown
from transcreate.run import Run


def artifact_key(text: str) -> str:
    """Artifact keys allow lower-case letters, digits and dashes only."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def reject_rows(run: Run, strict: bool, locales: tuple[str, ...] = ()) -> int:
    """List the rows the sheet rejected, and the rows with no headline for a locale (log and
    artifact); in strict mode, stop the run. Returns how many rows were rejected."""
    campaign = run.campaign
    problems = [str(problem) for problem in campaign.problems]
    rows = {problem.row for problem in campaign.problems}
    for variant in campaign.variants:
        asked = [tag for tag in locales if variant.locales is None or tag in variant.locales]
        missing = [tag for tag in asked if variant.text("headline", tag) is None]
        if missing:
            rows.add(variant.row)
            problems.append(
                f"{campaign.source}, row {variant.row}, column headline: empty, so nothing is "
                f"made for {', '.join(missing)}; write the headline (or headline:{missing[0]})"
            )
    if not problems:
        return 0
    logger = get_run_logger()
    for problem in problems:
        logger.warning("rejected: %s", problem)
    create_markdown_artifact(
        key=artifact_key(f"rejected-rows-{campaign.name}"),
        markdown=rejected_rows_markdown(campaign.name, problems, rows=len(rows), strict=strict),
        description=f"{len(rows)} row(s) of {campaign.name} rejected",
    )
    if strict:
        raise CampaignError(
            f"{campaign.source}: {len(rows)} row(s) rejected and strict mode is on, "
            "so nothing was made; the rows are listed in the artifact rejected-rows "
            "(correct them, or turn off strict under advanced)"
        )
    return len(rows)
