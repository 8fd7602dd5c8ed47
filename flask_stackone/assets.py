"""Serving the Hub script and our own files (the glue scripts and the accounts panel's
style sheet) from memory, each file read once per version.

All are answered with a strong ETag per encoding, the pre-compressed body when the client
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
from .services.state import request_state

CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Where our own static files live in the package.
STATIC = Path(__file__).parent / "static" / "stackone"
#: Our glue script, shipped in the package.
GLUE = STATIC / "hub.js"


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


@dataclass(frozen=True)
class PackageFile:
    """One of our static files, served under its digest from its own :class:`FileCache`."""

    name: str
    mimetype: str
    cache: FileCache

    @property
    def path(self) -> Path:
        return STATIC / self.name

    def asset(self) -> Asset:
        """The file's bytes; its ETag is its digest, part of its URL."""
        path = self.path

        def load() -> Asset:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()[:16]
            return Asset(data, gzip.compress(data, 9, mtime=0), digest)

        asset = self.cache.get(path, load)
        assert asset is not None, f"{path} is part of the package"
        return asset


_glue_cache = FileCache()
_hub_cache = FileCache()
#: Our files the blueprint serves at ``<prefix>/assets/<digest>/<name>``.
PACKAGE_FILES: dict[str, PackageFile] = {
    file.name: file
    for file in (
        PackageFile("hub.js", "text/javascript", _glue_cache),
        PackageFile("accounts.js", "text/javascript", FileCache()),
        PackageFile("accounts.css", "text/css", FileCache()),
    )
}


def glue() -> Asset:
    """Our glue script; its ETag is its digest, part of its URL."""
    return PACKAGE_FILES["hub.js"].asset()


def package_file(name: str) -> Asset:
    """One of :data:`PACKAGE_FILES` (``"accounts.js"`` ...)."""
    return PACKAGE_FILES[name].asset()


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


def script_response(
    asset: Asset, *, immutable: bool = True, mimetype: str = "text/javascript"
) -> Response:
    """A script (or style sheet) answer: ``304`` on a matching ``If-None-Match``, gzip when
    accepted, and (``immutable``) a year of caching; otherwise the client revalidates."""
    use_gzip = request.accept_encodings["gzip"] > 0
    etag = asset.etag
    conditional = request.if_none_match
    if conditional and (
        conditional.contains_weak(etag) or conditional.contains_weak(etag + "-gzip")
    ):
        response = Response(status=304)
    else:
        response = Response(asset.gzipped if use_gzip else asset.data, mimetype=mimetype)
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
    return package_file_view(digest, "hub.js")


def package_file_view(digest: str, name: str) -> Response:
    """``GET <prefix>/assets/<digest>/<name>``: one of our files, immutable under its
    digest; an old digest gets the current file, revalidated. Other names: 404."""
    file = PACKAGE_FILES.get(name)
    if file is None:
        response = Response("not found\n", status=404, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        return response
    asset = file.asset()
    return script_response(asset, immutable=digest == asset.etag, mimetype=file.mimetype)
