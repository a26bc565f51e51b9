"""Checksummed downloads into the data directory (atomic: a partial download is never used)."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from aigc.core.atomic import atomic_path
from aigc.core.errors import BadInputError

__all__ = ["download", "sha256_file"]


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: str | Path, sha256: str, *, timeout: float = 60.0,
             progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` unless a file with the right sha256 is already there.

    The bytes go to a temporary file whose checksum is verified before it is renamed into place.
    With ``AIGC_OFFLINE=1`` nothing is fetched (a clear error instead).
    """
    dest = Path(dest)
    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    if os.environ.get("AIGC_OFFLINE"):
        raise BadInputError(f"{dest.name} is not on disk and AIGC_OFFLINE is set, so {url} was not fetched")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_path(dest) as tmp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            _copy(resp, tmp, total, dest.name, progress)
            got = sha256_file(tmp)
            if got != sha256:
                raise BadInputError(f"download of {url} has sha256 {got}, expected {sha256}; "
                                    f"the file was not saved")
    except (urllib.error.URLError, OSError) as exc:
        raise BadInputError(f"could not download {url} to {dest}: {exc}") from exc
    return dest


def _copy(resp, tmp: Path, total: int | None, name: str, progress: bool) -> None:
    from tqdm.auto import tqdm

    with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=name,
                                       disable=not progress) as bar:
        for chunk in iter(lambda: resp.read(1 << 16), b""):
            out.write(chunk)
            bar.update(len(chunk))
