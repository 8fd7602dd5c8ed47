"""The one table of settings: what the plugin and the sandbox read from it, its parsers, and
the configuration docs that describe it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from flask_stackone import ConfigurationError, get_state
from flask_stackone.config import Settings, read_settings
from flask_stackone.core import setting_parsers as parse
from flask_stackone.core.settings_table import (
    BY_KEY,
    PLUGIN_SETTINGS,
    SANDBOX_SETTINGS,
    SETTINGS,
)
from flask_stackone.sandbox import SandboxConfig, create_app, read_config, stop_deliveries

from .conftest import API_KEY, WEBHOOK_SECRET, build_app

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The settings that take a number (the others take text, a flag, a list, a function...).
NUMERIC = (
    "TIMEOUT", "MAX_RETRIES", "MAX_RETRY_WAIT", "SESSION_EXPIRES_IN", "AUTH_LINK_EXPIRES_IN",
    "ONBOARDING_MAX_AGE", "WEBHOOK_MAX_BYTES", "WEBHOOK_MAX_AGE", "DELIVERY_WAIT",
    "DELIVERY_LEASE", "SANDBOX_DELIVERY_ATTEMPTS", "SANDBOX_DELIVERY_BACKOFF",
    "SANDBOX_DELIVERY_TIMEOUT",
)  # fmt: skip
#: What a host app writes: the plugin's settings and the sandbox's that it does not fill.
HOST_WRITTEN = [s for s in SETTINGS if s.from_plugin is None]
NOT_FINITE = [float("nan"), float("inf"), float("-inf"), "nan", "inf", "-inf", "Infinity"]


def test_every_key_is_in_the_table_once_and_the_two_parts_make_it_whole() -> None:
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys)) == len(BY_KEY)
    assert set(PLUGIN_SETTINGS) | set(SANDBOX_SETTINGS) == set(SETTINGS)
    assert not set(PLUGIN_SETTINGS) & set(SANDBOX_SETTINGS)
    assert all(s.doc and s.doc.endswith(".") for s in SETTINGS)
    for setting in SANDBOX_SETTINGS:
        assert setting.from_plugin is None or setting.from_plugin in {
            s.key for s in PLUGIN_SETTINGS
        }


def test_the_plugins_settings_and_the_sandboxs_config_have_a_field_per_row() -> None:
    plugin = [f.name for f in dataclasses.fields(Settings)]
    assert plugin == ["prefix", *(s.field for s in PLUGIN_SETTINGS), "sandbox_config"]
    sandbox = [f.name for f in dataclasses.fields(SandboxConfig)]
    assert sandbox == [s.field for s in SANDBOX_SETTINGS]
    assert SandboxConfig() == read_config({})  # its defaults are the table's


def test_read_without_config_every_setting_has_its_default() -> None:
    settings = read_settings({})
    for setting in PLUGIN_SETTINGS:
        expected = () if setting.key == "WEBHOOK_SECRET" else setting.default
        assert getattr(settings, setting.field) == expected, setting.key
    config = read_config({})
    for setting in SANDBOX_SETTINGS:
        assert getattr(config, setting.field) == setting.default, setting.key


def test_the_numeric_settings_are_listed_here() -> None:
    """Any setting with a number as its default is among those checked below."""
    numbers = {
        s.key
        for s in SETTINGS
        if isinstance(s.default, (int, float)) and not isinstance(s.default, bool)
    }
    assert numbers <= set(NUMERIC) <= set(BY_KEY)
    for key in NUMERIC:
        assert BY_KEY[key].parse(3, key) == 3
        with pytest.raises(ConfigurationError, match=f"^{key} must be a number"):
            BY_KEY[key].parse("soon", key)


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
@pytest.mark.parametrize("key", [k for k in NUMERIC if not k.startswith("SANDBOX_")])
def test_the_plugin_refuses_nan_and_infinities_naming_the_setting(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=rf"^STACKONE_{key} must be a (finite )?number"):
        build_app(**{f"STACKONE_{key}": value})
    with pytest.raises(ConfigurationError, match=rf"^STACKONE_{key} must be"):
        read_settings({}, overrides={key.lower(): value})


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
@pytest.mark.parametrize("key", [k for k in NUMERIC if k.startswith("SANDBOX_")])
def test_the_sandbox_refuses_nan_and_infinities_naming_the_setting(
    key: str, value: Any, tmp_path: Path
) -> None:
    pattern = rf"^STACKONE_{key} must be a (finite )?number"
    if BY_KEY[key].from_plugin is None:  # a host app writes it: checked at registration
        with pytest.raises(ConfigurationError, match=pattern):
            build_app(**{f"STACKONE_{key}": value})
    with pytest.raises(ConfigurationError, match=pattern):
        read_config({key: value}, "STACKONE_")
    with pytest.raises(ConfigurationError, match=rf"^{key} must be a (finite )?number"):
        stop_deliveries(create_app({key: value, "SANDBOX_DB": str(tmp_path / "s.db")}))


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_a_mounted_sandbox_refuses_them_in_the_plugins_setting_it_uses(
    value: Any, tmp_path: Path
) -> None:
    """Its answer timeout is ``STACKONE_TIMEOUT``: refused by name before the sandbox runs."""
    with pytest.raises(ConfigurationError, match=r"^STACKONE_TIMEOUT must be"):
        build_app(instance_path=str(tmp_path), STACKONE_SANDBOX=True, STACKONE_TIMEOUT=value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2.5, "must be a whole number, got 2.5"),
        (10**400, "must be a finite number"),
        (-(10**400), "must be at least 1"),
        (True, "must be a number, got True"),
        ("12", None),
        (12.0, None),
    ],
)
def test_whole_number_settings(value: Any, message: str | None) -> None:
    parser = parse.number(int, 1)
    if message is None:
        assert parser(value, "STACKONE_X") == 12 and type(parser(value, "STACKONE_X")) is int
    else:
        with pytest.raises(ConfigurationError, match=f"^STACKONE_X {message}"):
            parser(value, "STACKONE_X")


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse.number(float, 0)("x" * 500, "STACKONE_TIMEOUT")
    assert len(str(info.value)) < 100


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("STACKONE_API_KEY", [API_KEY]),
        ("STACKONE_API_KEY", {API_KEY: API_KEY}),
        ("STACKONE_WEBHOOK_SECRET", {WEBHOOK_SECRET: 1}),
        ("STACKONE_WEBHOOK_SECRET", [WEBHOOK_SECRET, 5]),
        ("STACKONE_WEBHOOK_SECRET", [WEBHOOK_SECRET, " "]),
    ],
)
def test_a_refused_secret_is_named_never_shown(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"^{key} ") as info:
        build_app(**{key: value})
    assert API_KEY not in str(info.value) and WEBHOOK_SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"), [("SANDBOX_API_KEY", " "), ("SANDBOX_WEBHOOK_SECRET", 5)]
)
def test_the_sandbox_names_a_refused_secret_too(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"^{key} "):
        read_config({key: value})


def test_a_host_app_fills_the_sandboxs_other_settings_from_the_plugins(tmp_path: Path) -> None:
    app = build_app(
        instance_path=str(tmp_path),
        STACKONE_SANDBOX=True,
        STACKONE_TIMEOUT=3.5,
        STACKONE_WEBHOOK_SECRET=["whsec_first", "whsec_second"],
    )
    try:
        settings = get_state(app).settings
        config = settings.sandbox_config
        assert config.delivery_timeout == 3.5
        assert config.api_key == settings.api_key == API_KEY
        assert config.webhook_secret == "whsec_first"  # the first of a rotation signs
    finally:
        stop_deliveries(app)


# -- the docs ----------------------------------------------------------------------------------

ROW = re.compile(r"^\| `(?P<key>[A-Z_]+)`(?P<rest>[^|]*)\| (?P<default>[^|]*) \|", re.M)


def documented(page: str) -> dict[str, Any]:
    """The settings table of ``docs/<page>``: each key and its documented default (the first
    value in backticks of its second column, read as Python's ``None``/``True``/``False``,
    as JSON, or as it is)."""
    found: dict[str, Any] = {}
    for row in ROW.finditer((DOCS / page).read_text(encoding="utf-8")):
        token = re.search(r"`([^`]*)`", row["default"])
        assert token, f"{page}: no default in backticks for {row['key']}"
        text = token[1]
        literals = {"None": None, "True": True, "False": False}
        if text in literals:
            value = literals[text]
        else:
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        found[row["key"]] = value
    return found


def same(documented_value: Any, default: Any) -> bool:
    return type(documented_value) is type(default) and documented_value == default


def test_the_configuration_docs_table_is_the_code_table() -> None:
    docs = documented("configuration.md")
    code = {"STACKONE_" + s.key: s.default for s in HOST_WRITTEN}
    assert sorted(set(code) - set(docs)) == [], "settings the docs do not describe"
    assert sorted(set(docs) - set(code)) == [], "documented settings the code does not have"
    wrong = {key: (docs[key], code[key]) for key in code if not same(docs[key], code[key])}
    assert wrong == {}, "documented default != code default"


def test_the_sandbox_page_table_agrees_with_the_code_table() -> None:
    docs = documented("sandbox.md")
    assert docs, "sandbox.md has a settings table"
    for key, value in docs.items():
        setting = BY_KEY[key.removeprefix("STACKONE_")]
        assert setting in HOST_WRITTEN and same(value, setting.default), key


def test_the_emulator_page_names_every_sandbox_setting() -> None:
    text = (DOCS / "emulator.md").read_text(encoding="utf-8")
    missing = [s.key for s in SANDBOX_SETTINGS if f"`{s.key}`" not in text]
    assert missing == []
