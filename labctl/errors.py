"""Errors that end a labctl command with a clear line and a defined exit code."""

from __future__ import annotations


class LabctlError(Exception):
    """A failure the user can act on. The message is one line: the problem and the fix."""

    exit_code = 1

    def lines(self) -> list[str]:
        """The message as printed: one line per problem."""
        return [line for line in str(self).splitlines() if line.strip()] or [str(self)]


class UsageError(LabctlError):
    """Bad usage or bad input, caught before any host is touched (exit 2)."""

    exit_code = 2


class HostKeyError(LabctlError):
    """A host's SSH key does not match the one labctl trusted (exit 1)."""

    exit_code = 1
