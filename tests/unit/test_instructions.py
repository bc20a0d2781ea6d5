from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError

from transcreate.campaign import read_campaign
from transcreate.errors import TemplateError
from transcreate.instructions import (
    InstructionRenderer,
    has_catalog,
    instruction_language,
    load_translations,
    model_may_misdraw,
    renderer_for,
    template_names,
)
from transcreate.jobs import EditJob, expand
from transcreate.locales import SUPPORTED_LOCALES, script_of
from transcreate.policy import load_policy
from transcreate.request import RunRequest
from transcreate.run.plan import guard

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
TRANSLATED = ("id", "th", "zh")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "headline": "Big Sale",
        "cta": None,
        "offer": None,
        "ends": None,
        "price": None,
        "discount": None,
        "color": "yellow",
        "position": "bottom-center",
        "locale": "en",
    }
    return {**values, **overrides}


def render(locale: str, **overrides: Any) -> str:
    return InstructionRenderer(locale).render("default", context(**overrides))


# --- the default template speaks the locale's language --------------------------------------------


def test_english_instruction() -> None:
    assert "Add “Big Sale” in yellow at the bottom center." in render("en")


def test_thai_instruction_uses_the_seed_wording() -> None:
    assert "เพิ่ม “ส่วนลดใหญ่” เป็นสีเหลือง" in render("th", headline="ส่วนลดใหญ่")


def test_chinese_instruction() -> None:
    assert "在底部居中用黄色添加“超级大促”" in render("zh", headline="超级大促")


def test_chinese_sentences_are_joined_without_spaces() -> None:
    instruction = render("zh", headline="超级大促", cta="立即购买", offer="立减50%")
    assert " " not in instruction
    assert "。在其下方添加“立减50%”。" in instruction


def test_indonesian_instruction() -> None:
    assert "Tambahkan “Diskon Besar” warna kuning di tengah bawah" in render(
        "id", headline="Diskon Besar"
    )


def test_instruction_is_one_line_of_single_spaces() -> None:
    instruction = render("en", cta="Shop now", offer="50% off", ends="Ends Dec 12, 2026")
    assert instruction == " ".join(instruction.split())
    assert instruction.endswith("Keep the product and background unchanged.")


def test_optional_lines_appear_only_when_given() -> None:
    assert "button" not in render("en")
    assert "Add a button that says “Shop now”." in render("en", cta="Shop now")


def test_locale_without_a_catalog_falls_back_to_english() -> None:
    assert "Add “Big Sale” in yellow at the bottom center." in render("sw")
    assert not has_catalog("sw")


@pytest.mark.parametrize(
    ("locale", "offer"),
    [
        ("vi", "Giảm 30%"),
        ("ms", "Diskaun 30%"),
        ("fil", "30% diskwento"),
        ("zh-Hant", "現折30%"),
        ("zh-TW", "現折30%"),
        ("ja", "30%オフ"),
        ("ko", "30% 할인"),
        ("ar", "خصم 30%"),
        ("hi", "30% की छूट"),
    ],
)
def test_the_offered_languages_have_their_own_wording(locale: str, offer: str) -> None:
    assert has_catalog(locale)
    assert renderer_for(locale).vocabulary("offer", None, "30%") == offer


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_shipped_locales_have_a_catalog(locale: str) -> None:
    assert has_catalog(locale)


def test_vocabulary_macro_words_an_offer() -> None:
    renderer = InstructionRenderer("id")
    assert renderer.vocabulary("offer", "Rp349.000", "30%") == "Diskon 30%, kini Rp349.000"
    assert renderer.vocabulary("offer", None, None) == ""


def test_unknown_vocabulary_macro_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="macro 'nope' failed for locale en"):
        InstructionRenderer("en").vocabulary("nope")


# --- the instruction's language and the copy's are chosen apart ----------------------------------

SAMPLE = ROOT / "examples" / "skincare-sale.csv"


def sample_jobs(locale: str, language: str, mode: str = "model") -> tuple[EditJob, ...]:
    campaign = read_campaign(SAMPLE)
    return expand(
        campaign,
        [locale],
        image_sha256="x",
        backend="b",
        mode=mode,
        instruction_language=language,
    ).jobs


@pytest.mark.parametrize(
    ("backend", "model", "expected"),
    [
        ("local", "", "locale"),  # no instruction is sent: each locale keeps its own wording
        ("dashscope", "qwen-image-edit-plus", "zh"),
        ("dify", "workflow", "zh"),  # the seed's Dify app serves Qwen-Image-Edit-2509
        ("openai", "Qwen/Qwen-Image-Edit-2509", "zh"),
        ("openai", "gpt-image-1", "en"),
    ],
)
def test_auto_picks_the_language_the_model_documents(backend: str, model: str, expected: str):
    assert instruction_language("auto", backend, model) == expected


@pytest.mark.parametrize("choice", ["locale", "en", "zh"])
def test_a_chosen_instruction_language_wins(choice: str) -> None:
    assert instruction_language(choice, "dashscope", "qwen-image-edit-plus") == choice


def test_thai_copy_is_quoted_verbatim_in_a_chinese_instruction() -> None:
    job = next(j for j in sample_jobs("th", "zh") if j.variant == "summer-sale")
    assert job.instruction.startswith("在底部居中用黄色添加“ส่วนลดใหญ่”。")
    assert "添加一个写着“ซื้อเลย”的按钮。" in job.instruction
    assert "“เพียง ฿399”" in job.instruction  # the offer line is copy: it stays Thai
    assert "เพิ่ม" not in job.instruction  # no Thai wording around the copy


def test_indonesian_copy_is_quoted_verbatim_in_an_english_instruction() -> None:
    job = next(j for j in sample_jobs("id", "en") if j.variant == "summer-sale")
    assert job.instruction.startswith("Add “Diskon Besar” in yellow at the bottom center.")
    assert "Tambahkan" not in job.instruction


def test_the_instruction_language_is_part_of_the_job_key() -> None:
    in_chinese, in_english = sample_jobs("th", "zh")[0], sample_jobs("th", "en")[0]
    assert in_chinese.instruction != in_english.instruction
    assert in_chinese.key != in_english.key
    # Chinese copy in a Chinese instruction is the same job whichever way it was asked for
    assert sample_jobs("zh", "zh")[0].key == sample_jobs("zh", "locale")[0].key


def test_the_length_limit_measures_the_instruction_as_sent() -> None:
    chinese, thai = sample_jobs("th", "zh")[0], sample_jobs("th", "locale")[0]
    assert len(chinese.instruction) < len(thai.instruction)
    request = RunRequest(
        campaign=str(SAMPLE),
        image="x.png",
        backend="dashscope",
        max_instruction_chars=len(chinese.instruction),
    )
    allowed, blocked = guard([chinese, thai], request, load_policy(None))
    assert allowed == [chinese]
    assert [result.instruction for result in blocked] == [thai.instruction]
    assert f"the instruction is {len(thai.instruction)} characters" in str(blocked[0].error)


@pytest.mark.parametrize(
    ("locale", "script", "risky"),
    [
        ("th", "Thai", True),
        ("ar", "Arab", True),
        ("ko", "Kore", True),
        ("id", "Latn", False),
        ("en-US", "Latn", False),
        ("zh", "Hans", False),
        ("zh-Hant", "Hant", False),
        ("zh-TW", "Hant", False),
        ("ja", "Jpan", True),
    ],
)
def test_scripts_the_model_may_misdraw(locale: str, script: str, risky: bool) -> None:
    assert script_of(locale) == script
    assert model_may_misdraw(locale) is risky


# --- spreadsheet text is data, never template source ----------------------------------------------


@pytest.mark.parametrize(
    "headline",
    [
        "{{ ''.__class__.__mro__ }}",
        "{% for x in range(3) %}x{% endfor %}",
        "{{ 7 * 7 }}",
        "%(color)s 100%",
    ],
)
def test_headline_appears_literally_in_the_instruction(headline: str) -> None:
    assert f"Add “{headline}” in yellow" in render("en", headline=headline)


def test_template_that_reaches_for_python_internals_is_refused(tmp_path: Path) -> None:
    (tmp_path / "evil.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    renderer = InstructionRenderer("en", templates=tmp_path)
    with pytest.raises(TemplateError, match="template 'evil' failed for locale en") as caught:
        renderer.render("evil", context())
    assert isinstance(caught.value.__context__, SecurityError)


def test_broken_template_is_a_template_error(tmp_path: Path) -> None:
    (tmp_path / "broken.j2").write_text("{% for x in %}")
    with pytest.raises(TemplateError, match="template 'broken' failed"):
        InstructionRenderer("en", templates=tmp_path).render("broken", context())


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(
        TemplateError, match=r"no instruction template 'fancy'.*known: clean-background, default"
    ):
        InstructionRenderer("en").render("fancy", context())


@pytest.mark.parametrize("name", ["../x", "../templates/default", "../../etc/passwd"])
def test_template_name_cannot_leave_the_templates_folder(tmp_path: Path, name: str) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (tmp_path / "x.j2").write_text("outside")
    with pytest.raises(TemplateError, match="no instruction template"):
        InstructionRenderer("en", templates=templates).render(name, context())


def test_template_names_leave_out_private_templates() -> None:
    assert template_names() == ["clean-background", "default"]


# --- catalogs -------------------------------------------------------------------------------------


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def template_msgids() -> list[str]:
    return [str(message.id) for message in read_catalog(LOCALES / "messages.pot") if message.id]


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated(locale: str) -> None:
    catalog = read_catalog(LOCALES / locale / "LC_MESSAGES" / "messages.po")
    untranslated = [
        msgid
        for msgid in template_msgids()
        if msgid not in catalog or not catalog[msgid].string or catalog[msgid].fuzzy
    ]
    assert untranslated == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_every_placeholder(locale: str) -> None:
    catalog = read_catalog(LOCALES / locale / "LC_MESSAGES" / "messages.po")
    for msgid in template_msgids():
        translated = str(catalog[msgid].string)
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(msgid)), msgid


def test_messages_pot_is_not_stale(tmp_path: Path) -> None:
    pybabel = Path(sys.executable).with_name("pybabel")
    if not pybabel.exists():
        pybabel = Path(shutil.which("pybabel") or "pybabel")
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [pybabel, "extract", "-F", "locales/babel.cfg", "--omit-header", "--no-location",
         "--sort-output", "-o", str(extracted), "templates/"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    committed = (LOCALES / "messages.pot").read_text(encoding="utf-8")
    assert extracted.read_text(encoding="utf-8") == committed, (
        "locales/messages.pot is stale: run pybabel extract (see the README)"
    )


def write_catalog(folder: Path, locale: str, white: str, *, suffix: str) -> Path:
    catalog = Catalog(locale=locale)
    catalog.add("white", white)
    path = folder / locale / "LC_MESSAGES" / f"messages{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        (write_po if suffix == ".po" else write_mo)(handle, catalog)
    return path


def test_po_is_compiled_in_memory_when_the_mo_is_missing(tmp_path: Path) -> None:
    write_catalog(tmp_path, "id", "putih dari po", suffix=".po")
    assert load_translations("id", tmp_path).gettext("white") == "putih dari po"
    assert not (tmp_path / "id" / "LC_MESSAGES" / "messages.mo").exists()


def test_po_wins_over_an_older_mo(tmp_path: Path) -> None:
    mo = write_catalog(tmp_path, "id", "putih lama", suffix=".mo")
    po = write_catalog(tmp_path, "id", "putih baru", suffix=".po")
    os.utime(mo, (po.stat().st_mtime - 60, po.stat().st_mtime - 60))
    assert load_translations("id", tmp_path).gettext("white") == "putih baru"


def test_up_to_date_mo_is_used(tmp_path: Path) -> None:
    po = write_catalog(tmp_path, "id", "putih dari po", suffix=".po")
    mo = write_catalog(tmp_path, "id", "putih dari mo", suffix=".mo")
    os.utime(mo, (po.stat().st_mtime + 60, po.stat().st_mtime + 60))
    assert load_translations("id", tmp_path).gettext("white") == "putih dari mo"


def test_regional_locale_uses_its_language_catalog(tmp_path: Path) -> None:
    write_catalog(tmp_path, "id", "putih", suffix=".po")
    assert load_translations("id-ID", tmp_path).gettext("white") == "putih"


def test_locale_without_a_catalog_gets_the_source_wording(tmp_path: Path) -> None:
    assert load_translations("vi", tmp_path).gettext("white") == "white"
    assert not has_catalog("vi", tmp_path)


def test_a_traditional_chinese_locale_does_not_borrow_the_simplified_catalog():
    assert InstructionRenderer("zh-Hant").vocabulary("color_name", "yellow") == "黃色"
    assert InstructionRenderer("zh-TW").vocabulary("color_name", "yellow") == "黃色"
    assert InstructionRenderer("zh-HK").vocabulary("color_name", "yellow") == "黃色"
    assert InstructionRenderer("zh-Hans").vocabulary("color_name", "yellow") == "黄色"
    assert InstructionRenderer("th-TH").vocabulary("color_name", "yellow") == "สีเหลือง"


@settings(max_examples=60, deadline=None, database=None)
@given(headline=st.text(min_size=1, max_size=60), cta=st.text(max_size=20))
def test_any_unicode_copy_is_rendered_as_data_in_every_locale(headline: str, cta: str) -> None:
    for locale in SUPPORTED_LOCALES:
        text = render(locale, headline=headline, cta=cta or None)
        # whatever the cell holds, it arrives as written (but for spacing), never evaluated
        assert "".join(headline.split()) in "".join(text.split())


@pytest.mark.parametrize(
    "locale", ["id", "th", "zh", "vi", "ms", "fil", "zh-Hant", "ja", "ko", "ar", "hi"]
)
def test_no_offered_locale_borrows_an_english_word_for_its_offer_or_end_date(locale: str) -> None:
    import datetime
    import re as regex
    from decimal import Decimal

    from transcreate.locales import format_discount, format_end_date, format_price

    renderer = renderer_for(locale)
    price, discount = (
        format_price(Decimal("12.99"), "USD", locale),
        format_discount(Decimal(30), locale),
    )
    lines = [
        renderer.vocabulary("offer", price, discount),
        renderer.vocabulary("offer", price, None),
        renderer.vocabulary("offer", None, discount),
        renderer.vocabulary("ends", format_end_date(datetime.date(2026, 12, 12), locale)),
    ]
    english = regex.compile(r"\b(off|only|now|ends|sale)\b", regex.IGNORECASE)
    assert not [line for line in lines if english.search(line or "")], lines
