"""Product feeds read as campaign sheets, as they are: Google Merchant Center's column names mapped
onto the campaign's (``id`` → variant, ``title`` → headline, ``image_link`` → image, ``price``
"15.00 USD" → price and currency, ``sale_price`` → the price shown and the discount it makes).

A sheet is a feed when it has ``id`` and ``title`` and no ``variant``: a campaign sheet is never
mistaken for one. The feed's other attributes (link, brand, gtin, the product's own ``color``…)
describe the product, not the ad: they are left out without a warning each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

#: Merchant Center attribute → campaign column
FEED_COLUMNS: Mapping[str, str] = {"id": "variant", "title": "headline", "image_link": "image"}
#: Merchant Center attributes that are not the ad's (``color`` is the product's, not the copy's)
PRODUCT_ATTRIBUTES = frozenset(
    {
        "description", "link", "mobile_link", "additional_image_link", "availability",
        "availability_date", "brand", "gtin", "mpn", "identifier_exists", "condition",
        "google_product_category", "product_type", "item_group_id", "color", "size", "gender",
        "age_group", "material", "pattern", "shipping", "shipping_weight", "tax",
        "sale_price_effective_date", "custom_label_0", "custom_label_1", "custom_label_2",
        "custom_label_3", "custom_label_4", "adult", "multipack", "is_bundle",
        "unit_pricing_measure", "product_highlight", "product_detail", "lifestyle_image_link",
        "expiration_date",
    }
)  # fmt: skip
_AMOUNT = re.compile(r"\s*([0-9][0-9.]*)\s*([A-Za-z]{3})?\s*")
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def attribute(header: str) -> str:
    """A feed header as Merchant Center names it: ``Image Link`` → ``image_link``."""
    return re.sub(r"[\s-]+", "_", header.strip().lower())


def is_feed(headers: list[str]) -> bool:
    names = {attribute(str(header)) for header in headers}
    return {"id", "title"} <= names and "variant" not in names


def campaign_header(header: str) -> str | None:
    """The campaign column a feed header is, the header itself when it is one already (a feed may
    add ``cta``, ``discount``, ``edit``…), None for a product attribute left out."""
    name = attribute(header)
    if name in FEED_COLUMNS:
        return FEED_COLUMNS[name]
    if name in PRODUCT_ATTRIBUTES:
        return None
    return header


def campaign_values(values: Mapping[str, str]) -> dict[str, str]:
    """A feed row's cells as a campaign row's: the id made a variant id, the price split into
    amount and currency, a sale price shown with the discount it gives (rounded down: an ad never
    promises more off than there is) and leading the copy, unless the row says otherwise."""
    row = dict(values)
    row["variant"] = _SLUG.sub("-", row.get("variant", "")).strip("-")[:64]
    regular = _amount(row.get("price", ""))
    sale = _amount(row.pop("sale_price", ""))
    shown = sale or regular
    if shown is not None:
        row["price"] = str(shown[0])
        if shown[1] and not row.get("currency"):
            row["currency"] = shown[1]
    if sale and regular and not row.get("discount") and regular[0] > sale[0] > 0:
        off = ((1 - sale[0] / regular[0]) * 100).quantize(Decimal(1), rounding=ROUND_FLOOR)
        if off >= 1:
            row["discount"] = str(off)
            # a sale is the message: the offer is set largest, and where a size is short of
            # room the title goes before the price does (the photo shows what is on sale)
            if not row.get("lead"):
                row["lead"] = "offer"
    return row


def _amount(text: str) -> tuple[Decimal, str] | None:
    """``"15.00 USD"`` → (15.00, "USD"); None when it is not that shape (the campaign's own
    price check then names what is wrong)."""
    match = _AMOUNT.fullmatch(text or "")
    if match is None:
        return None
    try:
        return Decimal(match[1]), (match[2] or "").upper()
    except InvalidOperation:
        return None
