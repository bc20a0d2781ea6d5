"""Files shipped beside the code: templates, catalogs and the sample campaign."""

from __future__ import annotations

from pathlib import Path


def data_dir(name: str) -> Path:
    """``templates``, ``locales`` or ``examples``: in the package when installed from a wheel, else
    at the top of the repository (where translators and template authors edit them)."""
    here = Path(__file__).resolve().parent
    packaged = here / "_data" / name
    return packaged if packaged.is_dir() else here.parent / name
