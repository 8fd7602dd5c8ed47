"""The options ``{{ stackone_hub() }}`` and ``{{ stackone_accounts() }}`` share, checked while
rendering: each function returns the value to render or raises naming the macro's option."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, g

from ..core.errors import InvalidOptionError
from ..services.linking import check_label
from ..services.state import EXTENSION_KEY, StackOneState

#: A CSS length, matched against the whole value (``fullmatch``).
HEIGHT = re.compile(r"[0-9]{1,5}(\.[0-9]{1,3})?(px|em|rem|vh|%)")


def text(name: str, value: Any, macro: str = "stackone_hub") -> str | None:
    """``value`` when a string. :raises TypeError: it is something else (``None`` passes)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{macro}({name}=...) must be a string, got {type(value).__name__}")
    return value


def label(value: Any, macro: str = "stackone_hub") -> str | None:
    """An account label, checked as the token route checks it.

    :raises TypeError: not a string. :raises ValueError: empty, too long or with control
        characters.
    """
    value = text("label", value, macro)
    try:
        return check_label(value)
    except InvalidOptionError as exc:
        raise ValueError(f"{macro}(label=...): {exc}") from None


def categories(value: str | Iterable[str] | None, macro: str = "stackone_hub") -> list[str] | None:
    """One category or several, as a list. :raises TypeError: not strings."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{macro}(categories=...) must be a string or a list of strings")
    return values


def height(value: str | int | None, macro: str = "stackone_hub") -> str:
    """A CSS length (an int means pixels; ``500px`` by default).

    :raises ValueError: not a CSS length.
    """
    if value is None:
        return "500px"
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value}px"
    if not isinstance(value, str) or not HEIGHT.fullmatch(value):
        raise ValueError(f"{macro}(height=...) must be a CSS length like 500px, not {value!r}")
    return value


def theme(value: str | Mapping[str, Any] | None, macro: str = "stackone_hub") -> str | None:
    """``light``, ``dark``, or a dict of Hub theme values as JSON.

    :raises ValueError: anything else.
    """
    if value is None or (isinstance(value, str) and value in ("light", "dark")):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    raise ValueError(f"{macro}(theme=...) must be 'light', 'dark' or a dict of theme values")


def flag(name: str, value: Any, macro: str = "stackone_hub") -> bool:
    """``value`` when a bool. :raises TypeError: it is something else."""
    if not isinstance(value, bool):
        raise TypeError(f"{macro}({name}=...) must be true or false")
    return value


def blueprint_state(default: str, blueprint: Any, macro: str = "stackone_hub") -> StackOneState:
    """The state of the blueprint a macro renders for: ``blueprint``, or ``default``.

    :raises ValueError: no StackOne blueprint of that name is registered on the app.
    """
    name = default if blueprint is None else text("blueprint", blueprint, macro) or ""
    states: dict[str, StackOneState] = current_app.extensions.get(EXTENSION_KEY, {})
    if name not in states:
        raise ValueError(
            f"{macro}(blueprint={name!r}) names no StackOne blueprint registered on this "
            f"app (registered: {', '.join(sorted(states)) or 'none'})"
        )
    return states[name]


def element_id(value: str | None, base: str) -> str:
    """``value``, or ``base`` for the first element of its kind on the page, then
    ``base-2``, ``base-3`` ... (counted per request)."""
    if value is not None:
        return value
    counts: dict[str, int] = g.setdefault("_stackone_element_counts", {})
    counts[base] = number = counts.get(base, 0) + 1
    return f"{base}-{number}" if number > 1 else base
