"""Every file labctl writes goes through here: a temporary file created exclusively beside
the target (mkstemp: an unpredictable name, O_EXCL, so a leftover or a planted symlink is
never written through), given its mode before any byte is written, then renamed over the
target in one step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE = 0o600


def write(path: Path, data: str | bytes, mode: int = PRIVATE) -> None:
    """Replace ``path`` with ``data`` atomically; the file has ``mode`` (default 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
