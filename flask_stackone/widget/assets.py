"""Serving the widget's scripts and the accounts panel's files from memory: the pinned Hub
script (installed by ``flask stackone hub install``), the glue, and the panel's script and
style sheet.

Our scripts are served as one file each, the code they share (``common.js``) first, so a
page loads one script per part. Every answer has a strong ETag per encoding, the
pre-compressed body when the client accepts gzip, and a year of caching under its versioned
(or digested) URL.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from flask import Response, request, url_for

from ..core.cache import Asset, FileCache
from ..core.hub_script import INSTALL_COMMAND, PACKAGE, installed_script
from ..services.state import request_state

CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Where our own static files live in the package.
STATIC = Path(__file__).resolve().parent.parent / "static" / "stackone"


@dataclass(frozen=True)
class PackageFile:
    """One of our files as served: its ``sources`` in ``static/stackone``, joined in order,
    under a URL holding their digest. Read again only when a source changes."""

    name: str
    mimetype: str
    sources: tuple[str, ...]
    cache: FileCache = field(default_factory=FileCache, compare=False, repr=False)

    def asset(self) -> Asset:
        """The served bytes; the ETag is their digest, part of the URL."""
        paths = [STATIC / source for source in self.sources]

        def load() -> Asset:
            data = b"\n".join(path.read_bytes() for path in paths)
            digest = hashlib.sha256(data).hexdigest()[:16]
            return Asset(data, gzip.compress(data, 9, mtime=0), digest)

        asset = self.cache.get(paths, load)
        assert asset is not None, f"{self.sources} are part of the package"
        return asset


#: The glue, served at ``<prefix>/glue/<digest>/hub.js``.
GLUE_SCRIPT = PackageFile("hub.js", "text/javascript", ("common.js", "hub.js"))
#: The accounts panel's files, served at ``<prefix>/assets/<digest>/<name>``.
PACKAGE_FILES: dict[str, PackageFile] = {
    file.name: file
    for file in (
        PackageFile("accounts.js", "text/javascript", ("common.js", "accounts.js")),
        PackageFile("accounts.css", "text/css", ("accounts.css",)),
    )
}


def glue_url(blueprint: str) -> str:
    """The glue's URL under the blueprint registered as ``blueprint``."""
    return url_for(f"{blueprint}.glue_script", digest=GLUE_SCRIPT.asset().etag)


def package_file_url(blueprint: str, name: str) -> str:
    """The URL of one of :data:`PACKAGE_FILES` under the blueprint ``blueprint``."""
    return url_for(f"{blueprint}.package_file", digest=PACKAGE_FILES[name].asset().etag, name=name)


def hub_script_url(blueprint: str, version: str) -> str:
    """The URL the blueprint ``blueprint`` serves the installed Hub script ``version`` at."""
    return url_for(f"{blueprint}.hub_script", version=version)


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
    asset = installed_script(request_state().settings.hub_dir, version)
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
    asset = GLUE_SCRIPT.asset()
    return script_response(asset, immutable=digest == asset.etag)


def package_file_view(digest: str, name: str) -> Response:
    """``GET <prefix>/assets/<digest>/<name>``: one of :data:`PACKAGE_FILES`, immutable
    under its digest; an old digest gets the current file, revalidated. Other names: 404."""
    file = PACKAGE_FILES.get(name)
    if file is None:
        response = Response("not found\n", status=404, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        return response
    asset = file.asset()
    return script_response(asset, immutable=digest == asset.etag, mimetype=file.mimetype)
