"""Correlation: which log record belongs to which attempt, and how good it is."""

from mtlsaudit.correlate.correlator import correlate, marker_tokens

__all__ = ["correlate", "marker_tokens"]
