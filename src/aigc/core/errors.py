"""Errors that speak to the user: what went wrong, with which file or value, and what to do."""

from __future__ import annotations

__all__ = ["AigcError", "BadInputError", "NonFiniteLossError"]


class AigcError(Exception):
    """Base class of errors the CLI prints as one clear line (no traceback)."""


class BadInputError(AigcError, ValueError):
    """Input from the user (a file, an argument, a value) is invalid."""


class NonFiniteLossError(AigcError, FloatingPointError):
    """Training produced NaN/inf; the last good checkpoint is kept."""
