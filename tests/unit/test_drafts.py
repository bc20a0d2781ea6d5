"""A review's draft storage finds what is published already instead of making it again, and
only for creatives: its manifest and gallery are always its own."""

from __future__ import annotations

from transcreate.storage import MISSING
from transcreate.storage.drafts import Drafts, discard, published_of
from transcreate.storage.local import LocalStorage


def test_the_destination_a_draft_publishes_to() -> None:
    assert published_of("out/_review/sale") == "out"
    assert published_of("s3://b/p/_review/sale/") == "s3://b/p"
    assert published_of("out") is None and published_of("out/_review/") is None


def test_a_published_creative_is_copied_into_the_draft_not_made_again(tmp_path) -> None:
    final = LocalStorage(tmp_path / "out")
    draft = LocalStorage(tmp_path / "out" / "_review" / "sale")
    final.put("sale/en/big-0123abcd.png", b"\x89PNG made", "image/png")
    final.put("sale/manifest.json", b"{}", "application/json")
    drafts = Drafts(draft, final)
    assert drafts.verify("sale/en/big-0123abcd.png") is None
    assert draft.get("sale/en/big-0123abcd.png") == b"\x89PNG made"
    assert drafts.verify("sale/manifest.json") == MISSING  # the draft writes its own
    assert drafts.verify("sale/th/big-0123abcd.png") == MISSING
    discard(str(tmp_path / "out" / "_review" / "sale"))
    assert not (tmp_path / "out" / "_review" / "sale").exists()
    discard(str(tmp_path / "out"))  # anything but a draft is left alone
    assert final.verify("sale/en/big-0123abcd.png") is None
