"""Exceptions for bad input and unreachable targets; results that failed are values, not these.

Tree::

    MtlsauditError
    ├── UsageError          bad flags, unreadable or mismatched files, unknown log spec (exit 2)
    └── TargetUnreachable   nothing answers at host:port (exit 3)
"""

from __future__ import annotations


class MtlsauditError(Exception):
    """Base of every error the CLI turns into one line and an exit code."""

    exit_code = 2


class UsageError(MtlsauditError):
    """The operator gave something we cannot use."""

    exit_code = 2


class TargetUnreachable(MtlsauditError):
    """The target did not accept a TCP connection (or TLS at all)."""

    exit_code = 3
