"""The pinned StackOne Hub script: its hashes, the npm installer, the verification, and
where a page loads it from.

``@stackone/hub`` is StackOne's code, so neither the repository nor the wheel carries it.
``flask stackone hub install`` (or ``python -m flask_stackone hub install``) runs
``npm pack @stackone/hub@<version>`` in a temporary folder, so npm uses whatever registry it
is configured for, checks ``dist/webcomponent.js`` against the size and sha256 pinned below,
and stores it with a gzip copy in a per-user cache folder shared by every app on the machine.
The widget (``flask_stackone.widget.assets``) and the sandbox serve the installed copy through
:func:`installed_script`, and both pick a page's source with :func:`script_source`; nothing
here needs Flask or click.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cache import Asset, FileCache
from .errors import HubInstallError, HubIntegrityError, NpmNotFoundError

__all__ = [
    "HUB_VERSION",
    "PINS",
    "HubInstallError",
    "HubIntegrityError",
    "HubPin",
    "NpmNotFoundError",
    "hub_dir",
    "hub_root",
    "install",
    "installed_script",
    "is_installed",
    "read_verified",
    "script_source",
]

PACKAGE = "@stackone/hub"
SCRIPT_NAME = "webcomponent.js"
GZIP_NAME = SCRIPT_NAME + ".gz"
MAX_SCRIPT_BYTES = 50 * 1024 * 1024
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


def read_verified(root: str | os.PathLike[str] | None, version: str) -> tuple[bytes, bytes] | None:
    """The installed script of a pinned ``version`` and its gzip copy, both checked against
    the pin; ``None`` when absent, altered or not pinned."""
    pin = PINS.get(version)
    if pin is None:
        return None
    folder = hub_dir(root, version)
    try:
        data = (folder / SCRIPT_NAME).read_bytes()
        gzipped = (folder / GZIP_NAME).read_bytes()
        verify(data, pin)
        if gzip.decompress(gzipped) != data:
            return None
    except (OSError, EOFError, HubIntegrityError, gzip.BadGzipFile):
        return None
    return data, gzipped


# -- serving ----------------------------------------------------------------------------------

_installed = FileCache()


def installed_script(root: str | os.PathLike[str] | None, version: str) -> Asset | None:
    """The installed, verified script of a pinned ``version``, with its gzip copy and an
    ETag taken from its pinned hash; ``None`` when absent, altered or not pinned. Read and
    hashed once per process, again only when the file changes on disk."""
    pin = PINS.get(version)
    if pin is None:
        return None

    def load() -> Asset | None:
        found = read_verified(root, version)
        return None if found is None else Asset(found[0], found[1], pin.sha256[:32])

    return _installed.get([hub_dir(root, version) / SCRIPT_NAME], load)


def script_source(
    script_url: str | None,
    root: str | os.PathLike[str] | None,
    installed_url: Callable[[str], str],
) -> tuple[str, str] | None:
    """``(src, integrity)`` of the pinned Hub script for a page, by one rule: the configured
    CDN copy (``script_url``) when set, else the installed copy at ``installed_url(version)``,
    else ``None`` (the page says how to install it)."""
    integrity = PINS[HUB_VERSION].integrity
    if script_url:
        return script_url, integrity
    if is_installed(root, HUB_VERSION):
        return installed_url(HUB_VERSION), integrity
    return None
