"""Metrics as pure functions of arrays."""

from .modes import mode_stats

__all__ = ["mode_stats"]
