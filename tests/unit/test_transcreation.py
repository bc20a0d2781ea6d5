"""Which copy a run translates and what it accepts back (transcreate.translation.fill), and the
translations sheet a reviewer corrects (transcreate.translation.sheet): pure functions, a
translator that is a Python function."""

from __future__ import annotations

import pytest

from transcreate.campaign import read_campaign
from transcreate.errors import CampaignError, PermanentEditError
from transcreate.glossary import Glossary, Term
from transcreate.jobs import expand
from transcreate.translation.chat import Ask
from transcreate.translation.fill import APPROVED, MACHINE, transcreate
from transcreate.translation.sheet import read_translations, translations_csv, translations_xliff

SHEET = (
    "variant,headline,headline:th,cta\n"
    "sale,Big Sale,ลดใหญ่,Shop now\n"
    "glow,Glow with Lumière,,Shop now\n"
)
WORDS = {"th": "ก", "zh": "中", "vi": "Việt"}


def campaign(text: str = SHEET):  # type: ignore[no-untyped-def]
    return read_campaign("c.csv", data=text.encode())


class Recorder:
    """A translator: the target's letter before each word, terms kept; every ask recorded."""

    def __init__(self, answers: list[str] | None = None):
        self.asks: list[Ask] = []
        self.answers = answers or []

    def __call__(self, ask: Ask) -> str:
        self.asks.append(ask)
        if self.answers:
            return self.answers.pop(0)
        text = ask.text
        for term, _ in ask.terms:
            text = text.replace(term, "\0")
        words = [f"{WORDS[ask.target]}{len(w)}" if w != "\0" else "\0" for w in text.split()]
        out = " ".join(words)
        for _, form in ask.terms:
            out = out.replace("\0", form, 1)
        return out


def test_only_missing_cells_are_translated_once_per_text_and_locale() -> None:
    translate = Recorder()
    done = transcreate(campaign(), ["th", "zh", "en"], translate, source_locale="en")
    asked = sorted((ask.text, ask.target) for ask in translate.asks)
    # th has its own headline for "sale"; "Shop now" is asked once per locale; en is the source
    assert asked == sorted(
        [
            ("Glow with Lumière", "th"),
            ("Shop now", "th"),
            ("Big Sale", "zh"),
            ("Glow with Lumière", "zh"),
            ("Shop now", "zh"),
        ]
    )
    sale = done.campaign.variants[0]
    assert sale.text("headline", "th") == "ลดใหญ่"  # the sheet's own, untouched
    assert sale.origin("headline", "th") == ("sheet", None)
    assert sale.text("cta", "zh") == "中4 中3" and sale.origin("cta", "zh") == (MACHINE, None)
    assert len(done.pieces) == 7 and done.calls == 5


def test_sheet_pairs_reach_the_translator_as_examples() -> None:
    translate = Recorder()
    transcreate(campaign(), ["th"], translate, source_locale="en")
    assert all(ask.examples == (("Big Sale", "ลดใหญ่"),) for ask in translate.asks)


def test_machine_copy_makes_its_jobs_needs_review_and_records_its_origin() -> None:
    done = transcreate(campaign(), ["zh"], Recorder(), source_locale="en")
    job = expand(done.campaign, ["zh"], image_sha256="x", backend="local/1").jobs[0]
    assert dict(job.copy_origin) == {"headline": MACHINE, "cta": MACHINE}
    assert job.machine is not None and job.machine.startswith("machine copy: row 2's Chinese")
    assert job.fallback is None  # the locale has copy of its own now


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        (["", " "], "the answer was empty"),
        (["Big Sale", "Big Sale"], "the source text, untranslated"),
        (["Great Sale", "Great Sale"], "not written in Thai's script"),
    ],
)
def test_a_refused_answer_is_asked_again_then_fails_that_variant_and_locale(
    answers: list[str], why: str
) -> None:
    sheet = "variant,headline\nsale,Big Sale\nnew,New\n"
    translate = Recorder(answers)
    done = transcreate(campaign(sheet), ["th"], translate, source_locale="en", workers=1)
    assert [ask.text for ask in translate.asks[:2]] == ["Big Sale", "Big Sale"]
    assert why in done.failed["sale", "th"] and done.failed["sale", "th"].startswith("row 2: ")
    assert ("new", "th") not in done.failed  # nothing else is lost
    assert done.campaign.variants[1].text("headline", "th") == "ก3"


def test_a_failing_backend_fails_those_cells_with_its_reason() -> None:
    def down(ask: Ask) -> str:
        raise PermanentEditError("translation: HTTP 401: invalid_api_key")

    done = transcreate(campaign(), ["zh"], down, source_locale="en")
    assert done.failed["glow", "zh"] == "row 3: translation: HTTP 401: invalid_api_key"
    assert done.pieces == ()


def test_a_lost_glossary_term_is_asked_again_then_kept_and_flagged() -> None:
    glossary = Glossary((Term("Lumière"),))
    sheet = "variant,headline\nglow,Glow with Lumière\n"
    translate = Recorder(["Việt4 Việt4", "Việt4 Việt4 lumiere"])
    done = transcreate(campaign(sheet), ["vi"], translate, source_locale="en", glossary=glossary)
    assert [ask.terms for ask in translate.asks] == [(("Lumière", "Lumière"),)] * 2
    [piece] = done.pieces
    assert piece.text == "Việt4 Việt4 lumiere"
    assert piece.problem == "the machine translation lost the glossary's 'Lumière'"
    job = expand(done.campaign, ["vi"], image_sha256="x", backend="local/1").jobs[0]
    assert job.machine is not None and "lost the glossary's 'Lumière'" in job.machine


def test_a_market_form_of_a_term_is_asked_for_and_checked() -> None:
    glossary = Glossary((Term("Lumière", (("zh", "露米埃"),)),))
    translate = Recorder()
    sheet = "variant,headline\nglow,Glow with Lumière\n"
    done = transcreate(campaign(sheet), ["zh"], translate, source_locale="en", glossary=glossary)
    assert translate.asks[0].terms == (("Lumière", "露米埃"),)
    assert done.pieces[0].text == "中4 中4 露米埃" and not done.failed


def test_approved_translations_are_used_and_not_asked_for() -> None:
    approved = {("sale", "headline", "zh"): ("Big Sale", "大甩卖")}
    translate = Recorder()
    done = transcreate(campaign(), ["zh"], translate, source_locale="en", approved=approved)
    assert ("Big Sale", "zh") not in {(a.text, a.target) for a in translate.asks}
    sale = done.campaign.variants[0]
    assert sale.text("headline", "zh") == "大甩卖"
    assert sale.origin("headline", "zh") == (APPROVED, None)
    job = expand(done.campaign, ["zh"], image_sha256="x", backend="local/1").jobs[0]
    assert dict(job.copy_origin)["headline"] == APPROVED
    # approvals are examples for the rest
    assert all(("Big Sale", "大甩卖") in ask.examples for ask in translate.asks)


def test_an_approval_of_other_source_words_is_not_applied() -> None:
    approved = {("sale", "headline", "zh"): ("Huge Sale", "大甩卖")}  # the sheet says Big Sale
    done = transcreate(campaign(), ["zh"], Recorder(), source_locale="en", approved=approved)
    assert done.campaign.variants[0].text("headline", "zh") == "中3 中4"


def test_without_a_translator_only_approved_cells_are_filled() -> None:
    approved = {("sale", "headline", "zh"): ("Big Sale", "大甩卖")}
    done = transcreate(campaign(), ["zh"], None, source_locale="en", approved=approved)
    assert [(p.variant, p.field) for p in done.pieces] == [("sale", "headline")]
    job = expand(done.campaign, ["zh"], image_sha256="x", backend="local/1").jobs[0]
    assert job.fallback is not None  # the button is still the English one, flagged


def test_a_source_locale_column_is_translated_from() -> None:
    sheet = "variant,headline,headline:en\nsale,Grosse Vente,Big Sale\n"
    translate = Recorder()
    transcreate(campaign(sheet), ["zh"], translate, source_locale="en")
    assert [ask.text for ask in translate.asks] == ["Big Sale"]


def test_the_translations_sheet_reads_back_as_approved_copy() -> None:
    done = transcreate(campaign(), ["zh", "th"], Recorder(), source_locale="en")
    written = translations_csv(done.pieces).decode("utf-8-sig")
    assert written.splitlines()[0] == "variant,row,field,locale,source,translation,origin,problem"
    corrected = written.replace("中3 中4", "大甩卖").encode()
    approved = read_translations(corrected, "translations.csv")
    assert approved["sale", "headline", "zh"] == ("Big Sale", "大甩卖")
    assert len(approved) == len(done.pieces)


def test_a_formula_like_translation_is_written_safe_and_read_back_as_written() -> None:
    done = transcreate(
        campaign("variant,headline\nsale,Minus\n"), ["vi"], Recorder(["-50% hôm nay"]),
        source_locale="en",
    )  # fmt: skip
    written = translations_csv(done.pieces)
    assert b",'-50% h" in written  # a spreadsheet program does not run it
    assert read_translations(written, "t.csv")["sale", "headline", "vi"][1] == "-50% hôm nay"


def test_xliff_round_trips_one_locale() -> None:
    done = transcreate(campaign(), ["zh", "th"], Recorder(), source_locale="en")
    document = translations_xliff(done.pieces, "en", "zh")
    assert b'version="2.1"' in document and b'trgLang="zh"' in document
    assert b'state="translated"' in document
    approved = read_translations(document, "translations-zh.xlf")
    assert set(approved) == {(p.variant, p.field, "zh") for p in done.pieces if p.locale == "zh"}


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"variant,field,text\nsale,headline,x\n", "t.csv", "missing: locale, translation"),
        (b"variant,field,locale,translation\nsale,,zh,x\n", "t.csv", "row 2, column field: empty"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', "t.xlf", "DOCTYPE"),
        (b"<xliff>", "t.xlf", "not readable XLIFF"),
    ],
)
def test_a_bad_translations_file_is_one_sentence_naming_where(
    data: bytes, name: str, message: str
) -> None:
    with pytest.raises(CampaignError, match=message):
        read_translations(data, name)


def test_a_translation_far_wider_than_its_source_is_asked_for_shorter_and_says_so() -> None:
    long = "Promo khusus member baru hemat besar untuk semua produk pilihan"
    translate = Recorder([long, "Promo member baru"])
    sheet = "variant,headline\nm,New members save\n"
    done = transcreate(campaign(sheet), ["id"], translate, source_locale="en")
    assert [ask.budget for ask in translate.asks] == [None, 28]  # 16 columns × 1.5 + 4
    [piece] = done.pieces
    assert piece.text == "Promo member baru"
    assert piece.problem is not None and "at most 28 characters was asked for" in piece.problem
    assert "3.9× as wide as the source" in piece.problem


def test_a_wide_script_budget_is_asked_in_its_characters() -> None:
    translate = Recorder(["会员专享全场商品最高立减百分之五十优惠活动", "会员专享"])
    done = transcreate(campaign("variant,headline\nm,Members save\n"), ["zh"], translate,
                       source_locale="en")  # fmt: skip
    assert translate.asks[1].budget == 11  # (12 × 1.5 + 4) columns, two per character
    assert done.pieces[0].text == "会员专享"


def test_the_layouts_room_asks_for_as_many_characters_as_read_at_the_least_size() -> None:
    from types import SimpleNamespace

    from transcreate.request import RunRequest
    from transcreate.run.plan import _layout_room

    class Compositor:  # the built-in editor's decide, as far as the room reads it
        identity = "local/test"

        def decide(self, job, image):  # type: ignore[no-untyped-def]
            record = {"canvas": [728, 90], "elements": [{"role": "headline", "font_size": 7}]}
            return SimpleNamespace(layout=SimpleNamespace(record=record))

    from transcreate.row_images import RowImages

    images = RowImages.of(b"")
    adapters = SimpleNamespace(
        editor=Compositor(), creative=images.base, images=images, glossary=None
    )
    request = RunRequest(campaign="c.csv", image="i.png", sizes=("728x90",))
    room = _layout_room(campaign(), request, adapters)  # type: ignore[arg-type]
    assert room is not None
    fits, why = room(campaign().variants[0], "th", "ก" * 40) or (0, "")
    assert fits == 10  # 40 × (7 / 14)²
    assert why == "its th headline would be set at 7 px, below the 14 px that reads at 728×90"
