"""Serving the Hub script and our glue script from memory, each file read once per version.

Both are answered with a strong ETag per encoding, the pre-compressed body when the client
accepts gzip, and a year of caching under their versioned (or digested) URLs.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Response, request

from .core.hub_script import INSTALL_COMMAND, PACKAGE, PINS, SCRIPT_NAME, hub_dir, read_verified
from .state import request_state

CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Our glue script, shipped in the package.
GLUE = Path(__file__).parent / "static" / "stackone" / "hub.js"


@dataclass(frozen=True)
class Asset:
    """A script held in memory: its bytes, its gzip copy and its ETag."""

    data: bytes
    gzipped: bytes
    etag: str


class FileCache:
    """One file's content, derived once per version of the file (its mtime and size)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int, int], Asset | None] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, load: Callable[[], Asset | None]) -> Asset | None:
        """``load()``'s result for the file as it is now; ``None`` when it is missing."""
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (os.fspath(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key not in self._entries:
                loaded = load()
                self._entries.clear()  # the file changed: its old version goes
                self._entries[key] = loaded
            return self._entries[key]


_glue_cache = FileCache()
_hub_cache = FileCache()


def glue() -> Asset:
    """Our glue script; its ETag is its digest, part of its URL."""

    def load() -> Asset:
        data = GLUE.read_bytes()
        return Asset(data, gzip.compress(data, 9, mtime=0), hashlib.sha256(data).hexdigest()[:16])

    asset = _glue_cache.get(GLUE, load)
    assert asset is not None, f"{GLUE} is part of the package"
    return asset


def hub_script(root: str | os.PathLike[str] | None, version: str) -> Asset | None:
    """The installed, verified Hub script of a pinned ``version``; ``None`` when absent or
    altered. Read and hashed once per process (again only if it changes on disk)."""
    pin = PINS.get(version)
    if pin is None:
        return None

    def load() -> Asset | None:
        found = read_verified(root, version)
        return None if found is None else Asset(found[0], found[1], pin.sha256[:32])

    return _hub_cache.get(hub_dir(root, version) / SCRIPT_NAME, load)


def script_response(asset: Asset, *, immutable: bool = True) -> Response:
    """A script answer: ``304`` on a matching ``If-None-Match``, gzip when accepted, and
    (``immutable``) a year of caching; otherwise the client revalidates each time."""
    use_gzip = request.accept_encodings["gzip"] > 0
    etag = asset.etag
    conditional = request.if_none_match
    if conditional and (
        conditional.contains_weak(etag) or conditional.contains_weak(etag + "-gzip")
    ):
        response = Response(status=304)
    else:
        response = Response(asset.gzipped if use_gzip else asset.data, mimetype="text/javascript")
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag + ("-gzip" if use_gzip else ""))
    response.headers["Cache-Control"] = CACHE_CONTROL if immutable else "no-cache"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def hub_script_view(version: str) -> Response:
    """``GET <prefix>/hub/<version>/webcomponent.js``: the pinned script, or a 404 saying
    how to install it."""
    asset = hub_script(request_state().settings.hub_dir, version)
    if asset is None:
        response = Response(
            f"// {PACKAGE} {version} is not installed here: run `{INSTALL_COMMAND}`\n",
            status=404,
            mimetype="text/javascript",
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    return script_response(asset)


def glue_view(digest: str) -> Response:
    """``GET <prefix>/glue/<digest>/hub.js``: immutable under its digest. An old digest (a
    page rendered before an upgrade) gets the current script, revalidated."""
    asset = glue()
    return script_response(asset, immutable=digest == asset.etag)
