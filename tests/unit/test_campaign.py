from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transcreate.campaign import Campaign, campaign_name, read_campaign
from transcreate.errors import CampaignError
from transcreate.sheets import RowProblem

HEADER = "variant,headline,cta,price,currency,discount,ends,color,position,locales,template"


def read_pasted(text: str, name: str | None = None) -> Campaign:
    """Rows pasted into the form, read as a run reads them (`inputs.pasted_rows`)."""
    from transcreate.inputs import pasted_rows

    source = pasted_rows(text)
    return read_campaign(source.name, data=source.data, name=name)


def write_csv(folder: Path, text: str, *, name: str = "sale.csv", bom: bool = False) -> Path:
    path = folder / name
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def read_rows(
    folder: Path, header: str, *rows: str, templates: Iterable[str] | None = None
) -> Campaign:
    return read_campaign(write_csv(folder, "\n".join([header, *rows]) + "\n"), templates=templates)


def only_problem(campaign: Campaign) -> RowProblem:
    """The one problem of a one-row campaign whose row was rejected."""
    assert campaign.variants == ()
    return only_problem_of(campaign)


# --- reading the file ---------------------------------------------------------------------------


def test_comma_csv_is_read(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline,cta", "summer,Big Sale,Shop now")
    [variant] = campaign.variants
    assert (variant.variant, variant.text("headline", "en"), variant.text("cta", "en")) == (
        "summer",
        "Big Sale",
        "Shop now",
    )


def test_semicolon_csv_with_bom_is_read(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, "variant;headline;price;currency\nsummer;Big, bigger Sale;12.99;USD\n", bom=True
    )
    [variant] = read_campaign(path).variants
    assert variant.variant == "summer"  # the BOM is not part of the first column's name
    assert variant.text("headline", "en") == "Big, bigger Sale"
    assert variant.price("en") == (Decimal("12.99"), "USD")


def test_comma_csv_with_bom_is_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "variant,headline\nsummer,Big Sale\n", bom=True)
    assert [v.variant for v in read_campaign(path).variants] == ["summer"]


def test_utf8_csv_without_bom_keeps_thai_and_chinese(tmp_path: Path) -> None:
    campaign = read_rows(
        tmp_path, "variant,headline,headline:th,headline:zh", "summer,,ส่วนลดใหญ่,超级大促"
    )
    [variant] = campaign.variants
    assert variant.text("headline", "th") == "ส่วนลดใหญ่"
    assert variant.text("headline", "zh") == "超级大促"


def test_xlsx_with_date_and_number_cells_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sale.xlsx"
    frame = pd.DataFrame(
        {
            "variant": ["summer", "flash"],
            "headline": ["Big Sale", "Flash Sale"],
            "price": [199000, 12.99],
            "currency": ["IDR", "USD"],
            "discount": [30, 12.5],
            "ends": [datetime.datetime(2026, 12, 12), datetime.datetime(2026, 1, 2, 18, 30)],
        }
    )
    frame.to_excel(path, index=False, engine="openpyxl")
    summer, flash = read_campaign(path).variants
    assert summer.price("id") == (Decimal("199000"), "IDR")
    assert summer.discount == Decimal("30")
    assert summer.ends == datetime.date(2026, 12, 12)
    assert flash.price("en") == (Decimal("12.99"), "USD")
    assert flash.discount == Decimal("12.5")
    assert flash.ends == datetime.date(2026, 1, 2)
    assert (summer.row, flash.row) == (2, 3)


def test_xlsx_percent_cell_is_reported_not_read_as_half_a_percent(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["variant", "headline", "discount"])
    sheet.append(["summer", "Big Sale", 0.5])  # typed as 50% in a cell formatted as percent
    sheet["C2"].number_format = "0%"
    workbook.save(tmp_path / "sale.xlsx")
    problem = only_problem(read_campaign(tmp_path / "sale.xlsx"))
    assert str(problem).startswith("sale.xlsx, row 2, column discount: ")
    assert "write the discount in percent, e.g. 50" in problem.message


def test_blank_xlsx_rows_keep_sheet_row_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["variant", "headline"], ["a", "A"], [None, None], ["b", None]):
        sheet.append(row)
    workbook.save(tmp_path / "sale.xlsx")
    assert str(only_problem_of(read_campaign(tmp_path / "sale.xlsx"))).startswith(
        "sale.xlsx, row 4, column headline"
    )


def only_problem_of(campaign: Campaign) -> RowProblem:
    assert len(campaign.problems) == 1, campaign.problems
    return campaign.problems[0]


def test_data_may_be_passed_as_bytes(tmp_path: Path) -> None:
    campaign = read_campaign("upload.csv", data=b"variant,headline\nsummer,Big Sale\n")
    assert campaign.source == "upload.csv"
    assert [v.variant for v in campaign.variants] == ["summer"]


# --- localized copy and prices ------------------------------------------------------------------


def test_localized_headline_is_used_for_its_locale(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,headline:th", "s,Big Sale,ส่วนลดใหญ่").variants
    assert variant.text("headline", "th") == "ส่วนลดใหญ่"


def test_bare_headline_is_the_fallback_for_other_locales(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,headline:th", "s,Big Sale,ส่วนลดใหญ่").variants
    assert variant.text("headline", "id") == "Big Sale"


def test_empty_localized_cell_falls_back_to_the_bare_column(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,headline:th", "s,Big Sale,").variants
    assert variant.text("headline", "th") == "Big Sale"


def test_headline_in_one_locale_only_is_a_valid_row(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,headline:th", "s,,ส่วนลดใหญ่").variants
    assert variant.text("headline", "th") == "ส่วนลดใหญ่"
    assert variant.text("headline", "id") is None


def test_missing_cta_is_none(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline", "s,Big Sale").variants
    assert variant.text("cta", "en") is None


def test_per_locale_price_is_used_for_its_locale(tmp_path: Path) -> None:
    [variant] = read_rows(
        tmp_path, "variant,headline,price,currency,price:th,currency:th", "s,Sale,12.99,USD,399,THB"
    ).variants
    assert variant.price("th") == (Decimal("399"), "THB")


def test_default_price_is_the_fallback_for_other_locales(tmp_path: Path) -> None:
    [variant] = read_rows(
        tmp_path, "variant,headline,price,currency,price:th,currency:th", "s,Sale,12.99,USD,399,THB"
    ).variants
    assert variant.price("zh") == (Decimal("12.99"), "USD")


def test_row_without_price_has_none(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,,").variants
    assert variant.price("en") is None


def test_lowercase_currency_is_accepted(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,399,thb").variants
    assert variant.price("th") == (Decimal("399"), "THB")


# --- every problem names file, row and column and says what would be right ---------------------


def test_bad_variant_id_is_reported(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline", "summer sale!,Big Sale"))
    assert str(problem).startswith(
        "sale.csv, row 2, column variant: 'summer sale!' is not a valid id"
    )
    assert "use letters, digits, '-' and '_'" in problem.message


def test_empty_variant_id_is_reported(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline", ",Big Sale"))
    assert str(problem).startswith("sale.csv, row 2, column variant: empty")


def test_duplicate_variant_keeps_the_first_row_and_rejects_the_later(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline", "s,First", "s,Second")
    assert [v.text("headline", "en") for v in campaign.variants] == ["First"]
    [problem] = campaign.problems
    assert str(problem).startswith("sale.csv, row 3, column variant: ")
    assert "already used on row 2" in problem.message
    assert "every variant needs its own id" in problem.message


def test_empty_headline_is_reported(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,headline:th", "s,  ,"))
    assert str(problem).startswith("sale.csv, row 2, column headline: empty")
    assert "'headline:<locale>'" in problem.message


def test_price_with_a_thousands_dot_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(
        read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,199.000,IDR")
    )
    assert str(problem).startswith("sale.csv, row 2, column price: '199.000'")
    assert "write 199000" in problem.message


@pytest.mark.parametrize("price", ["1" * 29, "9" * 16, "1." + "5" * 30])
def test_a_price_with_too_many_digits_is_its_rows_problem_not_a_traceback(
    tmp_path: Path, price: str
) -> None:
    campaign = read_rows(
        tmp_path, "variant,headline,price,currency", "v1,Sale,10,USD", f"v2,Sale,{price},USD"
    )
    assert [variant.variant for variant in campaign.variants] == ["v1"]
    problem = only_problem_of(campaign)
    assert (problem.row, problem.column) == (3, "price")
    assert "too many digits" in problem.message


def test_price_that_is_not_a_number_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,abc,IDR"))
    assert str(problem).startswith("sale.csv, row 2, column price: 'abc' is not a plain number")
    assert "199000 or 19.99" in problem.message


def test_price_with_a_currency_sign_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,$12,USD"))
    assert "no currency signs" in problem.message


def test_price_without_currency_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,199000,"))
    assert str(problem).startswith("sale.csv, row 2, column currency: empty")
    assert "ISO 4217" in problem.message


def test_per_locale_price_without_any_currency_names_the_locale_column(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,price:th", "s,Sale,399"))
    assert str(problem).startswith("sale.csv, row 2, column currency:th: empty")


def test_unknown_currency_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,price,currency", "s,Sale,1,XYZ"))
    assert str(problem).startswith("sale.csv, row 2, column currency: 'XYZ' is not an ISO 4217")
    assert "IDR, THB, CNY, USD" in problem.message


@pytest.mark.parametrize("discount", ["0", "100", "150", "100%"])
def test_discount_out_of_range_is_rejected(tmp_path: Path, discount: str) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,discount", f"s,Sale,{discount}"))
    assert str(problem).startswith("sale.csv, row 2, column discount: ")
    assert "between 0 and 100" in problem.message


@pytest.mark.parametrize("discount", ["-5", "half"])
def test_discount_that_is_not_a_number_is_rejected(tmp_path: Path, discount: str) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,discount", f"s,Sale,{discount}"))
    assert str(problem).startswith("sale.csv, row 2, column discount: ")
    assert "50 or 50%" in problem.message


@pytest.mark.parametrize("discount", ["50%", "50", " 50 %", "12.5"])
def test_discount_in_percent_is_accepted(tmp_path: Path, discount: str) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,discount", f"s,Sale,{discount}").variants
    assert variant.discount == Decimal(discount.replace("%", "").strip())


def test_discount_written_as_a_fraction_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,discount", "s,Sale,0.5"))
    assert "write the discount in percent" in problem.message


@pytest.mark.parametrize("ends", ["2026-12-12", "2026-12-12 00:00:00", "2026-12-12T23:59"])
def test_iso_date_is_read(tmp_path: Path, ends: str) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,ends", f"s,Sale,{ends}").variants
    assert variant.ends == datetime.date(2026, 12, 12)


@pytest.mark.parametrize("ends", ["12/12/2026", "2026-13-01", "2026-12-12 and on", "soon"])
def test_bad_date_is_rejected(tmp_path: Path, ends: str) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,ends", f"s,Sale,{ends}"))
    assert str(problem).startswith(f"sale.csv, row 2, column ends: {ends!r} is not a date")
    assert "YYYY-MM-DD" in problem.message


@pytest.mark.parametrize("color", ["yellow", "Yellow", " NAVY "])
def test_colour_names_are_accepted(tmp_path: Path, color: str) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,color", f"s,Sale,{color}").variants
    assert variant.color == color.strip().lower()


@pytest.mark.parametrize(("color", "expected"), [("#fc0", "#FFCC00"), ("#ffd600", "#FFD600")])
def test_hex_colour_is_normalized(tmp_path: Path, color: str, expected: str) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,color", f"s,Sale,{color}").variants
    assert variant.color == expected


def test_missing_colour_is_white(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,color", "s,Sale,").variants
    assert variant.color == "white"


@pytest.mark.parametrize("color", ["mauve", "#ggg", "#ffcc0"])
def test_bad_colour_is_rejected(tmp_path: Path, color: str) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,color", f"s,Sale,{color}"))
    assert str(problem).startswith(f"sale.csv, row 2, column color: {color!r} is not a colour")
    assert "yellow" in problem.message
    assert "#RRGGBB" in problem.message


@pytest.mark.parametrize(
    "position", ["Bottom Center", "bottom_center", "bottom centre", "BOTTOM-CENTER"]
)
def test_position_spelling_is_normalized(tmp_path: Path, position: str) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,position", f"s,Sale,{position}").variants
    assert variant.position == "bottom-center"


def test_missing_position_is_bottom_center(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,position", "s,Sale,").variants
    assert variant.position == "bottom-center"


def test_bad_position_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(
        read_rows(tmp_path, "variant,headline,position", "s,Sale,under the logo")
    )
    assert str(problem).startswith("sale.csv, row 2, column position: 'under the logo'")
    assert "bottom-center" in problem.message


def test_per_row_locales_are_parsed(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,locales", 's,Sale,"id, TH;id"').variants
    assert variant.locales == ("id", "th")


def test_row_without_locales_is_for_every_locale(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,locales", "s,Sale,").variants
    assert variant.locales is None


def test_bad_per_row_locale_tag_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,locales", 's,Sale,"id,xx-yy"'))
    assert str(problem).startswith("sale.csv, row 2, column locales: 'xx-yy' is not a CLDR locale")


def test_unknown_template_is_rejected(tmp_path: Path) -> None:
    campaign = read_rows(
        tmp_path, "variant,headline,template", "s,Sale,fancy", templates=["default", "clean"]
    )
    problem = only_problem(campaign)
    assert str(problem).startswith("sale.csv, row 2, column template: no template named 'fancy'")
    assert "known: clean, default" in problem.message


def test_known_template_is_accepted(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline,template", "s,Sale,Clean", templates=["clean"])
    assert [v.template for v in campaign.variants] == ["clean"]


def test_template_name_cannot_be_a_path(tmp_path: Path) -> None:
    problem = only_problem(read_rows(tmp_path, "variant,headline,template", "s,Sale,../x"))
    assert "is not a template name" in problem.message


def test_missing_template_is_default(tmp_path: Path) -> None:
    [variant] = read_rows(tmp_path, "variant,headline,template", "s,Sale,").variants
    assert variant.template == "default"


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline,color,position", "s,Sale,mauve,nowhere")
    assert [p.column for p in campaign.problems] == ["color", "position"]
    assert {p.variant for p in campaign.problems} == {"s"}


# --- one bad row, blank rows ----------------------------------------------------------------------


def test_bad_row_does_not_stop_the_other_rows(tmp_path: Path) -> None:
    campaign = read_rows(
        tmp_path, "variant,headline,price,currency", "a,A,1,USD", "b,B,abc,USD", "c,C,,"
    )
    assert [v.variant for v in campaign.variants] == ["a", "c"]
    assert [(p.row, p.column) for p in campaign.problems] == [(3, "price")]


def test_blank_rows_are_skipped_and_rows_keep_their_sheet_numbers(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline", "a,A", "", ",", "b,B", "c,")
    assert [(v.variant, v.row) for v in campaign.variants] == [("a", 2), ("b", 5)]
    assert [p.row for p in campaign.problems] == [6]


def test_quoted_multiline_cell_counts_as_one_row(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline", 'a,"Big\nSale"', "b,")
    assert campaign.variants[0].text("headline", "en") == "Big\nSale"
    assert [p.row for p in campaign.problems] == [3]


def test_trailing_delimiter_does_not_shift_columns(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline", "a,Big Sale,", "b,Flash Sale,")
    assert [(v.variant, v.text("headline", "en")) for v in campaign.variants] == [
        ("a", "Big Sale"),
        ("b", "Flash Sale"),
    ]
    assert any("more cells than the first row has column names" in w for w in campaign.warnings)


# --- files that cannot be used at all -------------------------------------------------------------


def test_missing_required_column_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        CampaignError, match=r"sale\.csv: missing column\(s\) headline; the first row"
    ):
        read_rows(tmp_path, "variant,title", "s,Sale")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        CampaignError, match=r"sale\.csv: the file is empty; the first row must name"
    ):
        read_campaign(write_csv(tmp_path, ""))


def test_header_only_file_has_no_variants(tmp_path: Path) -> None:
    campaign = read_campaign(write_csv(tmp_path, HEADER + "\n"))
    assert (campaign.variants, campaign.problems) == ((), ())


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "sale.csv"
    path.write_bytes("variant,headline\ns,Café\n".encode("latin-1"))
    with pytest.raises(CampaignError, match=r"sale\.csv: not UTF-8 text .*'CSV UTF-8'"):
        read_campaign(path)


def test_unsupported_extension_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "sale.ods"
    path.write_bytes(b"whatever")
    with pytest.raises(
        CampaignError, match=r"sale\.ods: unsupported file type '\.ods'.*\.csv or \.xlsx"
    ):
        read_campaign(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="no such campaign file"):
        read_campaign(tmp_path / "nope.csv")


def test_damaged_xlsx_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "sale.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(CampaignError, match=r"sale\.xlsx: cannot be read"):
        read_campaign(path)


def test_two_columns_for_the_same_field_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="both mean 'headline:th'"):
        read_rows(tmp_path, "variant,headline,headline:th,Headline:TH", "s,Sale,a,b")


def test_bad_locale_in_a_column_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match=r"column headline:xx-yy: 'xx-yy' is not a CLDR locale"):
        read_rows(tmp_path, "variant,headline,headline:xx-yy", "s,Sale,a")


# --- header names ---------------------------------------------------------------------------------


def test_unknown_column_gives_a_warning(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline,notes", "s,Sale,call Bob")
    assert campaign.warnings == ("sale.csv, column notes: not a transcreate column; not used",)
    assert len(campaign.variants) == 1


def test_per_locale_column_of_a_field_that_has_none_gives_a_warning(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline,color:th", "s,Sale,red")
    assert len(campaign.warnings) == 1
    assert "column color:th: only headline, cta, price, currency" in campaign.warnings[0]


def test_header_names_are_case_insensitive(tmp_path: Path) -> None:
    campaign = read_rows(
        tmp_path, " Variant ,HEADLINE,Headline:TH,Price:th,CURRENCY:Th", "s,Sale,ลด,399,THB"
    )
    [variant] = campaign.variants
    assert variant.text("headline", "th") == "ลด"
    assert variant.price("th") == (Decimal("399"), "THB")
    assert campaign.warnings == ()


# --- campaign names -------------------------------------------------------------------------------


def test_campaign_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "variant,headline\ns,Sale\n", name="Skincare Sale 2026.csv")
    assert read_campaign(path).name == "skincare-sale-2026"


def test_campaign_name_may_be_given(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "variant,headline\ns,Sale\n")
    assert read_campaign(path, name="../../etc").name == "etc"


@pytest.mark.parametrize("text", ["../../etc", "..", "/", "a/b\\c", "日本語", "", " - "])
def test_campaign_name_is_a_safe_folder_name(text: str) -> None:
    name = campaign_name(text)
    assert name not in ("", ".", "..")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")


# --- never anything but CampaignError -------------------------------------------------------------

CSV_PIECES = st.sampled_from(
    [",", ";", "\n", "\r\n", '"', ":", "%", "#", " ", "\ufeff", "variant", "headline", "price",
     "currency", "discount", "ends", "color", "position", "locales", "template", "headline:th",
     "price:xx", "IDR", "199.000", "50%", "2026-12-12", "#fc0", "nan", "NULL", "=1+1", "\x00"]
)  # fmt: skip


@settings(max_examples=50, deadline=None, database=None)
@given(body=st.lists(CSV_PIECES | st.text(max_size=5), max_size=40).map("".join))
def test_any_text_as_csv_raises_only_campaign_error(body: str) -> None:
    for text in (body, HEADER + "\n" + body):
        try:
            campaign = read_campaign("sale.csv", data=text.encode("utf-8", "surrogatepass"))
        except CampaignError:
            continue
        assert all(problem.row >= 2 for problem in campaign.problems)


@settings(max_examples=50, deadline=None, database=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_as_csv_raise_only_campaign_error(data: bytes) -> None:
    with contextlib.suppress(CampaignError):
        read_campaign("sale.csv", data=data)


# --- hostile sizes ------------------------------------------------------------------------------


def test_a_cell_over_the_limit_rejects_its_row_and_keeps_the_others(tmp_path: Path) -> None:
    from transcreate.sheets import MAX_CELL_CHARS

    huge = "Diskon besar " * 800_000  # 10 MB: once enough to hang the policy for hours
    campaign = read_rows(tmp_path, "variant,headline,cta", "good,Big Sale,Buy", f"long,{huge},Buy")
    assert [variant.variant for variant in campaign.variants] == ["good"]
    [problem] = campaign.problems
    assert (problem.row, problem.column, problem.variant) == (3, "headline", "long")
    assert f"at most {MAX_CELL_CHARS:,}" in problem.message
    assert f"{len(huge.strip()):,} characters" in problem.message


def test_a_cell_at_the_limit_is_taken(tmp_path: Path) -> None:
    from transcreate.sheets import MAX_CELL_CHARS

    headline = "x" * MAX_CELL_CHARS
    [variant] = read_rows(tmp_path, "variant,headline", f"edge,{headline}").variants
    assert variant.text("headline", "en") == headline


# --- invisible characters: the copy read is the copy checked, drawn and sent --------------------


def test_invisible_characters_are_removed_from_every_cell(tmp_path: Path) -> None:
    campaign = read_rows(
        tmp_path, "variant,headline,cta", "sale\u200b,Big\x00 Sale\ufeff,Shop\u200d now\x07"
    )
    [variant] = campaign.variants
    assert variant.variant == "sale"
    assert variant.text("headline", "en") == "Big Sale"
    assert variant.text("cta", "en") == "Shop now"


def test_a_rows_free_form_edit_and_its_locales_own(tmp_path: Path) -> None:
    campaign = read_rows(
        tmp_path, "variant,headline,edit,edit:zh", "a,Sale,Remove the watermark,去掉水印", "b,Hi,,"
    )
    first, second = campaign.variants
    assert first.edit_for("en") == "Remove the watermark" and first.edit_for("zh") == "去掉水印"
    assert second.edit_for("en") is None
    local = read_campaign(
        write_csv(tmp_path, "variant,headline,edit\na,Sale,Blur it\n"), model=False
    )
    assert "built-in editor cannot make a free-form edit" in only_problem(local).message
    long = read_rows(tmp_path, "variant,headline,edit", "a,Sale," + "x" * 301)
    assert (only_problem(long).column, "300" in only_problem(long).message) == ("edit", True)


def test_joiners_that_spell_something_are_kept(tmp_path: Path) -> None:
    family, persian, conjunct = "👨\u200d👩\u200d👧", "می\u200cخواهم", "क्\u200dष"
    campaign = read_rows(
        tmp_path,
        "variant,headline,cta",
        f"a,{family} sale,{persian}",
        f"b,{conjunct},\u200dGo\u200c",
    )
    first, second = campaign.variants
    assert first.text("headline", "en") == f"{family} sale"  # one emoji, not three
    assert first.text("cta", "en") == persian  # the non-joiner is Persian spelling
    assert second.text("headline", "en") == conjunct
    assert second.text("cta", "en") == "Go"  # beside ASCII or an end: nothing a reader sees


def test_a_bidi_override_refuses_its_cell_and_keeps_the_other_rows(tmp_path: Path) -> None:
    campaign = read_rows(tmp_path, "variant,headline", "good,Big Sale", "evil,\u202epaws ecaf")
    assert [variant.variant for variant in campaign.variants] == ["good"]
    [problem] = campaign.problems
    assert (problem.row, problem.column) == (3, "headline")
    assert "U+202E" in problem.message


# --- every input either works or is refused in one sentence -------------------------------------


def two_sheet_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Q3"
    first.append(["variant", "headline"])
    first.append(["old", "Old Sale"])
    second = workbook.create_sheet("Q4 launch")
    second.append(["variant", "headline"])
    second.append(["new", "New Sale"])
    workbook.save(path)
    return path


def test_a_workbook_with_several_sheets_warns_naming_them(tmp_path: Path) -> None:
    campaign = read_campaign(two_sheet_workbook(tmp_path / "sale.xlsx"))
    assert [variant.variant for variant in campaign.variants] == ["old"]
    [warning] = campaign.warnings
    assert "2 sheets" in warning and "'Q3'" in warning and "'Q4 launch'" in warning
    assert "sale.xlsx#Q4 launch" in warning


def test_a_hidden_first_sheet_is_not_the_campaign_unless_named(tmp_path: Path) -> None:
    path = tmp_path / "sale.xlsx"
    two_sheet_workbook(path)
    workbook = openpyxl.load_workbook(path)
    workbook["Q3"].sheet_state = "hidden"  # last quarter's rows, hidden by the manager
    workbook.save(path)
    campaign = read_campaign(path)
    assert [variant.variant for variant in campaign.variants] == ["new"]
    assert campaign.warnings == ()  # one sheet shows: nothing to choose between
    assert [v.variant for v in read_campaign(f"{path}#Q3").variants] == ["old"]


def test_a_sheet_is_chosen_by_parameter_or_by_hash(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "sale.xlsx")
    by_parameter = read_campaign(path, sheet="Q4 launch")
    by_hash = read_campaign(f"{path}#Q4 launch")
    assert [v.variant for v in by_parameter.variants] == [v.variant for v in by_hash.variants]
    assert [v.variant for v in by_hash.variants] == ["new"]
    assert by_hash.warnings == () and by_hash.name == "sale"


def test_an_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "sale.xlsx")
    with pytest.raises(
        CampaignError, match=r"no sheet named 'Q5'; its sheets are 'Q3', 'Q4 launch'"
    ):
        read_campaign(path, sheet="Q5")


def test_a_formula_cell_without_a_saved_result_is_called_a_formula(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["variant", "headline", "price", "currency"])
    sheet.append(["good", "Big Sale", 10, "USD"])
    sheet.append(["calc", "Flash Sale", "=C2*2", "USD"])  # openpyxl saves no result
    workbook.save(tmp_path / "sale.xlsx")
    campaign = read_campaign(tmp_path / "sale.xlsx")
    assert [variant.variant for variant in campaign.variants] == ["good"]
    problem = only_problem_of(campaign)
    assert str(problem).startswith("sale.xlsx, row 3, column price: the cell holds a formula")
    assert "=C2*2" in problem.message and "paste values" in problem.message
    assert "empty" not in problem.message


@pytest.mark.parametrize("row", [2, 4])
def test_a_row_with_an_extra_cell_is_a_problem_of_that_row_only(tmp_path: Path, row: int) -> None:
    rows = ["a,A", "b,B", "c,C"]
    rows[row - 2] += ",stray"
    campaign = read_rows(tmp_path, "variant,headline", *rows)
    assert len(campaign.variants) == 2
    problem = only_problem_of(campaign)
    assert problem.row == row
    assert "3 cells, but the first row names 2 columns" in problem.message
    assert "'stray'" in problem.message


def test_an_unclosed_quote_is_reported_on_its_own_row_and_later_rows_are_read(
    tmp_path: Path,
) -> None:
    campaign = read_rows(tmp_path, "variant,headline", "a,A", 'b,"Big Sale', "c,C")
    assert [(v.variant, v.row) for v in campaign.variants] == [("a", 2), ("c", 4)]
    problem = only_problem_of(campaign)
    assert problem.row == 3 and "never closed" in problem.message


def test_a_folder_given_as_the_campaign_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="is a folder, not a campaign file"):
        read_campaign(tmp_path)


# --- pasted rows ------------------------------------------------------------------------------


def test_rows_pasted_from_a_spreadsheet_are_read() -> None:
    text = "variant\theadline\theadline:th\tprice\tcurrency\r\nsale\tBig, Sale\tลดใหญ่\t10\tUSD\r\n"
    [variant] = read_pasted(text).variants
    assert variant.text("headline", "en") == "Big, Sale"
    assert variant.text("headline", "th") == "ลดใหญ่"
    assert variant.price("en") == (Decimal("10"), "USD")


def test_pasted_csv_is_read_too() -> None:
    campaign = read_pasted('variant,headline\nsale,"Big Sale"\n', name="My Paste")
    assert [variant.variant for variant in campaign.variants] == ["sale"]
    assert campaign.name == "my-paste"


def test_pasted_rows_have_the_same_row_and_column_errors_as_a_file(tmp_path: Path) -> None:
    rows = ["variant,headline,price,currency", "a,A,1,USD", "b,B,cheap,USD"]
    pasted = read_pasted("\n".join(row.replace(",", "\t") for row in rows))
    from_file = read_rows(tmp_path, *rows)
    assert str(only_problem_of(pasted)).startswith("pasted rows, row 3, column price: ")
    assert only_problem_of(pasted).message == only_problem_of(from_file).message


def test_nothing_pasted_is_one_sentence() -> None:
    with pytest.raises(CampaignError, match="pasted rows: nothing was pasted"):
        read_pasted(" \n")


def _workbook(tmp_path: Path, cells: dict[str, str]) -> Path:
    workbook = openpyxl.Workbook()
    for reference, value in cells.items():
        workbook.active[reference] = value
    path = tmp_path / "sale.xlsx"
    workbook.save(path)
    return path


def test_a_stray_cell_at_the_sheets_far_corner_is_not_read_and_is_named(tmp_path: Path) -> None:
    # openpyxl alone would yield a million rows of 16,384 cells for it (minutes, gigabytes)
    path = _workbook(
        tmp_path, {"A1": "variant", "B1": "headline", "A2": "v1", "B2": "Sale", "XFD1048576": "x"}
    )
    campaign = read_campaign(path)
    assert [variant.variant for variant in campaign.variants] == ["v1"]
    [note] = [warning for warning in campaign.warnings if "reach row" in warning]
    assert "1,048,576" in note and "16,384" in note


def test_a_sheet_longer_than_the_limit_is_refused_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transcreate import sheets

    monkeypatch.setattr(sheets, "MAX_ROWS", 3)  # the header and two variants
    cells = {"A1": "variant", "B1": "headline"}
    cells |= {f"A{row}": f"v{row}" for row in range(2, 5)} | {f"B{row}": "S" for row in range(2, 5)}
    with pytest.raises(CampaignError, match="more than 2 variants; split the campaign"):
        read_campaign(_workbook(tmp_path, cells))
    del cells["A4"], cells["B4"]
    assert len(read_campaign(_workbook(tmp_path, cells)).variants) == 2


def test_a_workbook_that_unpacks_too_large_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transcreate import sheets

    path = _workbook(tmp_path, {"A1": "variant", "B1": "headline", "A2": "v1", "B2": "Sale"})
    monkeypatch.setattr(sheets, "MAX_UNPACKED_BYTES", 1000)  # a real bomb unpacks to gigabytes
    with pytest.raises(CampaignError, match=r"sale\.xlsx: the workbook unpacks to [\d,]+ bytes"):
        read_campaign(path)
    monkeypatch.undo()
    assert len(read_campaign(path).variants) == 1


def test_a_rows_variations_are_named_checked_and_need_a_model(tmp_path: Path) -> None:
    from transcreate.looks import parse_variations, with_variations

    assert parse_variations("neon: a neon street | warm light")[0] == [
        ("neon", "a neon street"),
        ("v2", "warm light"),
    ]
    assert "two variations are named 'a'" in str(parse_variations("a: x | a: y")[1])
    campaign = read_rows(tmp_path, "variant,headline,edit,variations", "s,Hi,No tag,neon: Neon")
    [derived] = with_variations(campaign).variants
    assert (derived.variant, derived.look, derived.edit_for("en")) == (
        "s-neon",
        "neon",
        "No tag. Neon",
    )
    local = read_campaign(write_csv(tmp_path, "variant,headline,variations\na,Hi,x\n"), model=False)
    assert only_problem(local).column == "variations"


def test_a_looks_file_replaces_the_shipped_looks(tmp_path: Path) -> None:
    from transcreate.looks import read_looks, with_variations

    looks = read_looks("# our spring tests\nbeach: On a sunny beach\ncafe: On a cafe table\n", "l")
    campaign = read_rows(tmp_path, "variant,headline", "s,Hi")
    assert [v.variant for v in with_variations(campaign, 0, looks).variants] == [
        "s-beach",
        "s-cafe",
    ]
    assert [v.variant for v in with_variations(campaign, 1, looks).variants] == ["s-beach"]
    assert [v.variant for v in with_variations(campaign, 0).variants] == ["s"]
    with pytest.raises(CampaignError, match=r"^looks\.txt: no looks"):
        read_looks("# nothing but a comment\n", "looks.txt")
    with pytest.raises(CampaignError, match="two variations are named 'a'"):
        read_looks("a: x\na: y\n", "looks.txt")
