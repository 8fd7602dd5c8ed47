"""Sphinx configuration: the Markdown pages through MyST, the reference through autodoc.

Build with ``python -m sphinx -W --keep-going -b html docs <out>`` (``make docs``).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not

from flask_stackone import __version__  # noqa: E402

project = "flask-stackone"
author = "flask-stackone contributors"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
# No intersphinx: building needs no network.

# ``page.md#a-heading`` links between pages, with the anchors GitHub gives every heading.
myst_heading_anchors = 6

# Links from a page to README.md or SECURITY.md, which live beside docs/ and are read in the
# repository: Sphinx shows them as text. Only these targets (named as a path from the page, or
# in full by newer MyST versions); any other broken link fails.
nitpick_ignore = [
    ("myst", target)
    for page in sorted(ROOT.glob("*.md"))
    for target in (f"../{page.stem}", str(page.with_suffix("")))
]
# Without intersphinx (no network), Sphinx resolves a builtin in a type hint (``type[Model]``)
# against our attributes of that name (``Account.type``...) and warns that it is ambiguous.
# This category is that warning only.
suppress_warnings = ["ref.python"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
html_title = f"flask-stackone {release}"


def show_default_factories(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, returns: Any
) -> tuple[str | None, Any] | None:
    """A dataclass's signature shows ``field(default_factory=dict)`` as ``<factory>``, which
    Sphinx cannot parse (it then prints the signature raw): show ``dict()`` instead."""
    if what != "class" or not signature or not dataclasses.is_dataclass(obj):
        return None
    for found in dataclasses.fields(obj):
        if found.default_factory is not dataclasses.MISSING and found.init:
            factory = getattr(found.default_factory, "__name__", "...")
            signature = signature.replace("= <factory>", f"= {factory}()", 1)
    return signature, returns


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", show_default_factories)
