"""Errors that end a labctl command with a clear line and a defined exit code."""

from __future__ import annotations

import errno


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


_OS_FIXES = {
    errno.EACCES: "check its permissions, or point XDG_STATE_HOME / XDG_CONFIG_HOME elsewhere",
    errno.EPERM: "check its permissions, or point XDG_STATE_HOME / XDG_CONFIG_HOME elsewhere",
    errno.EROFS: "it is on a read-only file system: point XDG_STATE_HOME / XDG_CONFIG_HOME at "
    "a writable folder",
    errno.ENOSPC: "the disk is full: free some space (old runs: lower LABCTL_KEEP_RUNS)",
    errno.EDQUOT: "the disk quota is used up: free some space",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.ENOTDIR: "a file stands where a folder must be: move it away",
    errno.EISDIR: "a folder stands where a file must be: move it away",
    errno.ENOENT: "create the folder it lives in, or give another path",
}


def os_error(exc: OSError) -> UsageError:
    """An operating-system error as one line: the path, what went wrong, and the fix."""
    where = exc.filename if exc.filename is not None else "a file labctl needed"
    fix = _OS_FIXES.get(exc.errno or 0, "fix that path or its folder and run again")
    return UsageError(f"{where}: {exc.strerror or exc}: {fix}")
