"""Connector keys and the names people know them by (``bamboohr`` is "BambooHR"), and the
letters standing for a name where there is no logo."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Display names of common StackOne connectors, by connector key. Others: set
#: ``STACKONE_PROVIDER_NAMES``, or they are shown title-cased (``workable``: "Workable").
KNOWN_NAMES: Mapping[str, str] = {
    "ashby": "Ashby",
    "bamboohr": "BambooHR",
    "bullhorn": "Bullhorn",
    "deel": "Deel",
    "greenhouse": "Greenhouse",
    "gusto": "Gusto",
    "hibob": "HiBob",
    "hubspot": "HubSpot",
    "lever": "Lever",
    "pipedrive": "Pipedrive",
    "personio": "Personio",
    "rippling": "Rippling",
    "salesforce": "Salesforce",
    "smartrecruiters": "SmartRecruiters",
    "teamtailor": "Teamtailor",
    "workable": "Workable",
    "workday": "Workday",
}

_WORD_BREAKS = re.compile(r"[_.-]+")


def provider_name(key: str, names: Mapping[str, str] | None = None) -> str:
    """The name to show for the connector ``key``: from ``names`` (the host's
    ``STACKONE_PROVIDER_NAMES``), else :data:`KNOWN_NAMES`, else the key title-cased."""
    if names and key in names:
        return names[key]
    if key in KNOWN_NAMES:
        return KNOWN_NAMES[key]
    return " ".join(word[:1].upper() + word[1:] for word in _WORD_BREAKS.split(key) if word)


def monogram(name: str) -> str:
    """Up to two letters standing for a connector's ``name`` where it has no logo:
    ``"HiBob"`` -> ``Hi``, ``"SAP SuccessFactors"`` -> ``SS``; ``?`` for no letters."""
    words = [w for w in name.replace("-", " ").replace("_", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        letters = words[0][:2]
        return letters[:1].upper() + letters[1:].lower()
    return (words[0][0] + words[1][0]).upper()
