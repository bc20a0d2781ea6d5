"""transcreate: localize advertising creatives at scale."""

__version__ = "0.1.0"
