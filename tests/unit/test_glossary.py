"""The campaign's glossary: read with its problems named by row and column, carried on each piece
of copy that contains a term, and honoured by line breaking (a term is never broken inside)."""

from __future__ import annotations

import pytest

from tests.drawing import layout
from transcreate.campaign import read_campaign
from transcreate.compose.blocks import TextBlock
from transcreate.compose.lines import line_units
from transcreate.errors import CampaignError
from transcreate.glossary import Glossary, Term, parse_glossary
from transcreate.jobs import Overlay, expand

BRAND_TH = "ลาโรชโพเซย์"  # La Roche-Posay: pythainlp's dictionary does not know it


def test_terms_and_their_market_forms_are_read() -> None:
    glossary = parse_glossary(
        "term,term:th,term:zh-Hant\nLa Roche-Posay,ลาโรชโพเซย์,理膚寶水\nFlash Sale,,\n\n".encode(),
        "glossary.csv",
    )
    assert glossary.terms == (
        Term("La Roche-Posay", (("th", BRAND_TH), ("zh-Hant", "理膚寶水"))),
        Term("Flash Sale"),
    )
    assert glossary.forms("th") == (BRAND_TH, "Flash Sale")  # an empty cell: kept as written
    assert glossary.forms("th-TH")[0] == BRAND_TH  # a region takes its language's form
    assert glossary.forms("zh-Hant")[0] == "理膚寶水"
    assert glossary.forms("id") == ("La Roche-Posay", "Flash Sale")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\nAcme\n", "a glossary needs a 'term' column (found: name)"),
        ("term,th\nAcme,x\n", "column th: a glossary has 'term' and 'term:<locale>' columns"),
        ("term,term:th\nAcme,x\n,ลา\n", "glossary.csv, row 3, column term: the term is empty"),
        ("term\n" + "x" * 81 + "\n", "row 2, column term: a term of 81 characters"),
    ],
)
def test_a_bad_glossary_is_named_by_row_and_column(text: str, message: str) -> None:
    with pytest.raises(CampaignError, match=r"glossary\.csv") as raised:
        parse_glossary(text.encode(), "glossary.csv")
    assert message in str(raised.value)


def test_copy_carries_the_terms_it_contains_and_only_those_change_its_key() -> None:
    campaign = read_campaign(
        "sale.csv",
        data=f"variant,headline,headline:th,cta\nv1,Flash Sale at La Roche-Posay,"
        f"แฟลชเซลล์ {BRAND_TH},Shop\n".encode(),
    )
    glossary = Glossary((Term("La Roche-Posay", (("th", BRAND_TH),)), Term("Flash Sale")))
    plain = expand(campaign, ["en", "th"], image_sha256="0" * 64, backend="local/7")
    kept = expand(
        campaign, ["en", "th"], image_sha256="0" * 64, backend="local/7", glossary=glossary
    )
    en, th = kept.jobs
    assert en.overlays[0].keep == ("La Roche-Posay", "Flash Sale")
    assert th.overlays[0].keep == (BRAND_TH,)
    assert en.overlays[-1] == Overlay("cta", "Shop", en.overlays[-1].color)  # no term: as before
    assert en.key != plain.jobs[0].key  # a term kept whole may set other lines
    # A glossary with none of the copy's terms leaves every job as it was.
    other = expand(
        campaign, ["en", "th"], image_sha256="0" * 64, backend="local/7",
        glossary=Glossary((Term("Nivea"),)),
    )  # fmt: skip
    assert other.jobs[0].key == plain.jobs[0].key


def test_a_thai_brand_the_dictionary_lacks_is_never_broken_inside() -> None:
    text = f"ลดพิเศษ {BRAND_TH} ทุกรายการวันนี้"
    assert BRAND_TH not in line_units(text, "th")  # the dictionary alone cuts it up
    broken = set()
    for width in range(240, 480, 16):
        [plain] = layout([TextBlock("headline", text, "#FFFFFF")], "top-left", (width, width), "th")
        [kept] = layout(
            [TextBlock("headline", text, "#FFFFFF", keep=(BRAND_TH,))],
            "top-left",
            (width, width),
            "th",
        )
        if len(plain.lines) > 1 and not any(BRAND_TH in line for line in plain.lines):
            broken.add(width)
        assert any(BRAND_TH in line for line in kept.lines), (width, kept.lines)
    assert broken, "at some width the dictionary's breaks split the brand"


def test_a_two_word_term_stays_on_one_line() -> None:
    text = "Mega Flash Sale Weekend"
    for width in range(160, 400, 20):
        [kept] = layout(
            [TextBlock("headline", text, "#FFFFFF", keep=("Flash Sale",))],
            "top-left",
            (width, width),
            "en",
        )
        assert any("Flash Sale" in line for line in kept.lines), (width, kept.lines)
