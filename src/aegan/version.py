"""The version of aegan (written into every run folder's config.json)."""

__version__ = "0.1.0"
