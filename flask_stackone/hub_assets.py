"""The pinned StackOne Hub script: installing it with npm, verifying it, serving it.

``@stackone/hub`` is StackOne's code, so neither the repository nor the wheel carries it.
``flask stackone hub install`` (or ``python -m flask_stackone.hub_assets``) runs
``npm pack @stackone/hub@<version>`` in a temporary folder, so npm uses whatever registry it
is configured for, checks ``dist/webcomponent.js`` against the size and sha256 pinned below,
and stores it with a gzip copy in a per-user cache folder shared by every app on the machine.
The blueprint then serves it from memory under a versioned, immutable URL.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Response, request

__all__ = [
    "HUB_VERSION",
    "PINS",
    "HubInstallError",
    "HubIntegrityError",
    "HubPin",
    "HubScript",
    "NpmNotFoundError",
    "hub_dir",
    "hub_root",
    "install",
    "is_installed",
    "load_script",
]

PACKAGE = "@stackone/hub"
SCRIPT_NAME = "webcomponent.js"
GZIP_NAME = SCRIPT_NAME + ".gz"
MAX_SCRIPT_BYTES = 50 * 1024 * 1024
CACHE_CONTROL = "public, max-age=31536000, immutable"
INSTALL_COMMAND = "flask stackone hub install"


@dataclass(frozen=True)
class HubPin:
    """What one released version of ``dist/webcomponent.js`` must be, byte for byte."""

    version: str
    size: int
    sha256: str
    integrity: str  #: the Subresource Integrity value for the ``<script>`` tag


#: The Hub version the widget uses.
HUB_VERSION = "1.11.4"
#: Every version this release of flask-stackone knows the hashes of.
PINS: dict[str, HubPin] = {
    "1.11.4": HubPin(
        version="1.11.4",
        size=1_212_755,
        sha256="050848c09fc444ac5c0c6c8ce5ddeeb34d0e26beaae179b82d2939a280b55041",
        integrity="sha384-rpn1IheWieiWj9y+/Z5IV1lm+ivtKZ4NT+lUG7XyQ1SCqRHYMRoxC1bEQKScjgcx",
    ),
}


class HubInstallError(RuntimeError):
    """The Hub script could not be installed. The message says what to do."""


class NpmNotFoundError(HubInstallError):
    """The ``npm`` command is not on ``PATH``."""


class HubIntegrityError(HubInstallError):
    """The downloaded script is not the pinned one (size or sha256 differ): refused."""


# -- where it lives ---------------------------------------------------------------------------


def hub_root(configured: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding one sub-folder per Hub version.

    ``configured`` (``STACKONE_HUB_DIR``) wins, then the ``STACKONE_HUB_DIR`` environment
    variable, then ``$XDG_CACHE_HOME/flask-stackone/hub`` (``~/.cache/flask-stackone/hub``).
    """
    chosen = configured or os.environ.get("STACKONE_HUB_DIR")
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "flask-stackone" / "hub"


def hub_dir(root: str | os.PathLike[str] | None, version: str = HUB_VERSION) -> Path:
    """The folder of one version: ``<root>/<version>``."""
    return hub_root(root) / version


def pin_for(version: str) -> HubPin:
    """The pinned hashes of ``version``. :raises HubInstallError: it is not pinned."""
    try:
        return PINS[version]
    except KeyError:
        known = ", ".join(sorted(PINS))
        raise HubInstallError(
            f"{PACKAGE} {version} is not pinned by this flask-stackone release "
            f"(pinned: {known}); only a pinned version can be verified"
        ) from None


def verify(data: bytes, pin: HubPin) -> None:
    """Check ``data`` against ``pin``. :raises HubIntegrityError: size or sha256 differ."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != pin.size or digest != pin.sha256:
        raise HubIntegrityError(
            f"refusing {PACKAGE} {pin.version}: dist/{SCRIPT_NAME} is {len(data)} bytes with "
            f"sha256 {digest}, expected {pin.size} bytes with sha256 {pin.sha256}. "
            "The registry npm uses served different bytes: nothing was installed."
        )


def is_installed(root: str | os.PathLike[str] | None, version: str = HUB_VERSION) -> bool:
    """True when both files of ``version`` are present and the script has the pinned size.

    A cheap check (two ``stat`` calls) for rendering; serving verifies the hash once.
    """
    pin = PINS.get(version)
    folder = hub_dir(root, version)
    try:
        return (
            pin is not None
            and (folder / SCRIPT_NAME).stat().st_size == pin.size
            and (folder / GZIP_NAME).is_file()
        )
    except OSError:
        return False


# -- installing -------------------------------------------------------------------------------


def install(
    version: str = HUB_VERSION,
    root: str | os.PathLike[str] | None = None,
    *,
    npm: str | None = None,
    force: bool = False,
    timeout: float = 300.0,
) -> tuple[Path, bool]:
    """Fetch, verify and store the Hub script unless a verified copy is already there.

    :param version: a version listed in :data:`PINS`.
    :param root: the ``STACKONE_HUB_DIR`` setting (``None``: see :func:`hub_root`).
    :param npm: the npm executable (default: ``npm`` on ``PATH``).
    :param force: fetch again even when a verified copy exists.
    :returns: the script's path and whether anything was fetched.
    :raises NpmNotFoundError: npm is missing. :raises HubIntegrityError: hash mismatch.
    :raises HubInstallError: npm failed or the package has no ``dist/webcomponent.js``.
    """
    pin = pin_for(version)
    folder = hub_dir(root, version)
    script = folder / SCRIPT_NAME
    if not force and _verified_copy(folder, pin):
        return script, False
    command = npm or shutil.which("npm")
    if not command:
        raise NpmNotFoundError(_npm_missing_message())
    with tempfile.TemporaryDirectory(prefix="flask-stackone-hub-") as tmp:
        data = _npm_pack(command, f"{PACKAGE}@{version}", Path(tmp), timeout)
    verify(data, pin)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / GZIP_NAME, gzip.compress(data, compresslevel=9, mtime=0))
        _write_atomic(script, data)
    except OSError as exc:
        raise HubInstallError(f"cannot write the Hub script to {folder}: {exc}") from None
    return script, True


def _npm_missing_message() -> str:
    return (
        f"npm was not found: install Node.js and npm, then run `{INSTALL_COMMAND}` again "
        "(or set STACKONE_HUB_SCRIPT_URL to a CDN copy of the pinned Hub script)"
    )


def _verified_copy(folder: Path, pin: HubPin) -> bool:
    try:
        data = (folder / SCRIPT_NAME).read_bytes()
        if not (folder / GZIP_NAME).is_file():
            return False
    except OSError:
        return False
    return len(data) == pin.size and hashlib.sha256(data).hexdigest() == pin.sha256


def _npm_pack(npm: str, spec: str, workdir: Path, timeout: float) -> bytes:
    """Run ``npm pack spec`` in ``workdir`` and return the tarball's ``dist/webcomponent.js``."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [npm, "pack", spec, "--ignore-scripts", "--silent"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise NpmNotFoundError(_npm_missing_message()) from None
    except subprocess.TimeoutExpired:
        raise HubInstallError(f"`npm pack {spec}` did not finish within {timeout:.0f}s") from None
    except OSError as exc:
        raise HubInstallError(f"`npm pack {spec}` could not run: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
        raise HubInstallError(
            f"`npm pack {spec}` failed with exit code {done.returncode}: " + " / ".join(detail)
        )
    tarballs = sorted(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise HubInstallError(f"`npm pack {spec}` produced {len(tarballs)} tarballs, expected one")
    return _read_script(tarballs[0], spec)


def _read_script(tarball: Path, spec: str) -> bytes:
    """Read ``<top>/dist/webcomponent.js`` from an npm tarball without extracting anything."""
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                _top, _, rest = member.name.partition("/")
                if rest != f"dist/{SCRIPT_NAME}":
                    continue
                if not member.isfile() or member.size > MAX_SCRIPT_BYTES:
                    raise HubInstallError(f"{spec}: dist/{SCRIPT_NAME} is not a regular file")
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise HubInstallError(f"{spec}: the tarball npm produced is unreadable ({exc})") from None
    raise HubInstallError(f"{spec}: the package has no dist/{SCRIPT_NAME}")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- serving ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubScript:
    """The verified script of one version, held in memory with its gzip copy."""

    version: str
    data: bytes
    gzipped: bytes
    etag: str


_cache: dict[tuple[str, int, int], HubScript] = {}
_cache_lock = threading.Lock()


def load_script(root: str | os.PathLike[str] | None, version: str) -> HubScript | None:
    """The installed, verified script of a pinned ``version``; ``None`` when absent or altered.

    Files are read and hashed once per process (again only if they change on disk).
    """
    pin = PINS.get(version)
    if pin is None:
        return None
    folder = hub_dir(root, version)
    try:
        stat = (folder / SCRIPT_NAME).stat()
    except OSError:
        return None
    key = (str(folder), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        try:
            data = (folder / SCRIPT_NAME).read_bytes()
            gzipped = (folder / GZIP_NAME).read_bytes()
            verify(data, pin)
            if gzip.decompress(gzipped) != data:
                return None
        except (OSError, EOFError, HubIntegrityError, gzip.BadGzipFile):
            return None
        script = HubScript(version, data, gzipped, pin.sha256[:32])
        _cache.clear()
        _cache[key] = script
        return script


def serve(root: str | os.PathLike[str] | None, version: str) -> Response:
    """The response for ``GET <prefix>/hub/<version>/webcomponent.js``."""
    script = load_script(root, version)
    if script is None:
        response = Response(
            f"// {PACKAGE} {version} is not installed here: run `{INSTALL_COMMAND}`\n",
            status=404,
            mimetype="text/javascript",
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    return script_response(script.data, script.gzipped, script.etag)


def script_response(data: bytes, gzipped: bytes, etag: str, *, immutable: bool = True) -> Response:
    """A script answer: a strong ETag per encoding, ``304`` on a matching ``If-None-Match``,
    the pre-compressed body when the client accepts gzip, and (``immutable``) a year of
    caching for versioned URLs; otherwise the client revalidates each time."""
    use_gzip = request.accept_encodings["gzip"] > 0
    conditional = request.if_none_match
    if conditional and (
        conditional.contains_weak(etag) or conditional.contains_weak(etag + "-gzip")
    ):
        response = Response(status=304)
    else:
        response = Response(gzipped if use_gzip else data, mimetype="text/javascript")
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag + ("-gzip" if use_gzip else ""))
    response.headers["Cache-Control"] = CACHE_CONTROL if immutable else "no-cache"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def hub_script_view(version: str) -> Response:
    """The blueprint's ``hub_script`` endpoint."""
    from .state import get_state

    return serve(get_state(name=request.blueprint or "stackone").settings.hub_dir, version)


# -- command line -----------------------------------------------------------------------------


def install_and_report(version: str, root: str | None, force: bool) -> None:
    """Install and print one line; turn failures into a click error (exit code 1)."""
    try:
        path, fetched = install(version, root, force=force)
    except HubInstallError as exc:
        raise click.ClickException(str(exc)) from None
    state = "installed" if fetched else "already installed"
    click.echo(f"{PACKAGE} {version} {state} (sha256 verified): {path}")


version_option = click.option(
    "--version",
    "version",
    default=HUB_VERSION,
    show_default=True,
    help="The Hub version; it must be one this release pins.",
)
force_option = click.option("--force", is_flag=True, help="Fetch again even if installed.")


def make_cli(blueprint_name: str) -> click.Group:
    """The ``flask stackone hub`` group of one blueprint (it reads that app's settings)."""
    from flask.cli import AppGroup

    from .state import get_state

    group = AppGroup("hub", help=f"The pinned StackOne Hub script ({PACKAGE} {HUB_VERSION}).")

    @group.command("install")
    @version_option
    @force_option
    def install_command(version: str, force: bool) -> None:
        """Fetch the pinned Hub script with npm, verify it and cache it for every app."""
        install_and_report(version, get_state(name=blueprint_name).settings.hub_dir, force)

    @group.command("status")
    def status_command() -> None:
        """Say where the widget loads the Hub script from; exit 1 when it has no source."""
        settings = get_state(name=blueprint_name).settings
        folder = hub_dir(settings.hub_dir, HUB_VERSION)
        verified = load_script(settings.hub_dir, HUB_VERSION) is not None
        click.echo(f"pinned:      {PACKAGE} {HUB_VERSION}")
        installed = "installed, verified" if verified else "not installed"
        click.echo(f"self-hosted: {folder} ({installed})")
        click.echo(f"CDN URL:     {settings.hub_script_url or '(STACKONE_HUB_SCRIPT_URL not set)'}")
        if not (verified or settings.hub_script_url):
            raise click.ClickException(
                f"the widget has no Hub script: run `{INSTALL_COMMAND}` "
                "or set STACKONE_HUB_SCRIPT_URL"
            )

    return group
