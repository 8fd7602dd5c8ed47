"""The sandbox's seeded connectors: what each asks for in the Hub, and its logo.

Field labels follow what the real connectors ask for; keys are the sandbox's own.
A field is secret unless ``secret=False`` (the Hub blanks secret fields in edit mode).
Two ``config`` shapes exist in the Hub and both are served: the flat form
(``configFields``) and the per-auth-method form (``authentication``), used by Workday.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.connectors import monogram

#: Shown above every credential form: the magic values of the failure paths.
SANDBOX_NOTICE = (
    "Sandbox: any value links an account. A value containing 'invalid' is rejected; "
    "one containing 'error' links an account whose status is 'error'."
)


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str = "password"  # text | number | password | text_area | select
    secret: bool = True
    required: bool = True
    placeholder: str = ""
    hint: str = ""
    options: tuple[tuple[str, str], ...] = ()

    def as_hub(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "readOnly": False,
            "secret": self.secret,
            "placeholder": self.placeholder,
        }
        if self.hint:
            data["guide"] = {"description": self.hint, "tooltip": self.hint}
        if self.options:
            data["options"] = [{"value": v, "label": label} for v, label in self.options]
        return data


@dataclass(frozen=True)
class Connector:
    key: str
    name: str
    categories: tuple[str, ...]
    color: str
    fields: tuple[Field, ...] = ()
    oauth: bool = False
    guide: str = ""
    per_auth_method: bool = False
    auth_key: str = field(default="default")

    @property
    def integration_id(self) -> str:
        return f"sbx-{self.key}"

    def hub_config(self, logo_url: str) -> dict[str, Any]:
        """The ``config`` of ``GET /hub/connectors/{integration_id}``."""
        fields = [f.as_hub() for f in self.fields]
        auth: dict[str, Any] = {"type": "oauth2"} if self.oauth else {"type": "custom"}
        if self.oauth:
            auth["grantType"] = "authorization_code"
        base = {"key": self.key, "name": self.name, "assets": {"icon": logo_url}}
        if self.per_auth_method:
            method = {**auth, "fields": fields, "guide": {"description": self.guide}}
            return {**base, "authentication": {self.auth_key: {"production": method}}}
        notices = (
            []
            if self.oauth
            else [{"key": "sandbox", "type": "info", "description": SANDBOX_NOTICE}]
        )
        return {
            **base,
            **auth,
            "configFields": fields,
            "configNotices": notices,
            "support": {"description": self.guide},
        }


CONNECTORS: tuple[Connector, ...] = (
    Connector(
        "bamboohr", "BambooHR", ("hris",), "#73c41d",
        fields=(
            Field("subdomain", "Company Domain", "text", secret=False, placeholder="acme",
                  hint="The part before .bamboohr.com in your BambooHR address."),
            Field("api_key", "API Key",
                  hint="In BambooHR: your avatar menu, API Keys, Add New Key. "
                       "The key is shown once: copy it now."),
        ),
        guide="Use an API key of a BambooHR user allowed to read employee data.",
    ),
    Connector(
        "hibob", "HiBob", ("hris",), "#e8336d",
        fields=(
            Field("service_user_id", "Hibob Service User ID", "text", placeholder="SERVICE-1234",
                  hint="Settings, Integrations, Service Users: the ID starts with SERVICE-."),
            Field("service_user_token", "Hibob Service User Token",
                  hint="Shown once when the service user is created."),
        ),
        guide="Create a service user with read access to People data.",
    ),
    Connector(
        "personio", "Personio", ("hris",), "#1c2b4a",
        fields=(
            Field("client_id", "Client ID", "text", placeholder="papi-...",
                  hint="Settings, Integrations, API credentials: starts with papi-."),
            Field("client_secret", "Client Secret"),
            Field("app_id", "Personio App ID", "text", secret=False, required=False,
                  placeholder="my-company-hris",
                  hint="Any name that identifies this integration in Personio's logs."),
        ),
        guide="Generate API credentials with read access to employee attributes.",
    ),
    Connector(
        "workday", "Workday", ("hris", "ats"), "#f38b00",
        fields=(
            Field("web_service_endpoint", "Web Service Endpoint", "text", secret=False,
                  placeholder="https://wd2-impl-services1.workday.com/ccx/service/acme",
                  hint="Workday: View API Clients, Workday REST API Endpoint, without /api."),
            Field("tenant", "Tenant", "text", secret=False, placeholder="acme_preview"),
            Field("username", "Integration System Username", "text", secret=False,
                  placeholder="ISU_StackOne"),
            Field("password", "Integration System User Password"),
        ),
        guide="Use an Integration System User whose security group can read workers.",
        per_auth_method=True,
        auth_key="isu",
    ),
    Connector(
        "greenhouse", "Greenhouse", ("ats",), "#24a47f",
        fields=(
            Field("api_key", "API Key",
                  hint="Configure, Dev Center, API Credential Management: a Harvest key."),
            Field("job_board_token", "Job Board Token", "text", required=False,
                  hint="Only needed to post applications to your job board."),
            Field("on_behalf_of_user_id", "On-Behalf-Of user ID", "text", secret=False,
                  required=False, placeholder="4080",
                  hint="The Greenhouse user that writes are attributed to."),
        ),
        guide="The Harvest key needs read access to candidates, jobs and applications.",
    ),
    Connector(
        "lever", "Lever", ("ats",), "#4a4a4a", oauth=True,
        guide="Connect opens Lever's sign-in page; approve the requested access.",
    ),
    Connector(
        "salesforce", "Salesforce", ("crm",), "#00a1e0", oauth=True,
        fields=(
            Field("instance_url", "Salesforce URL", "text", secret=False,
                  placeholder="https://acme.my.salesforce.com",
                  hint="The address you use to sign in to Salesforce."),
        ),
        guide="Connect opens Salesforce's sign-in page in a popup.",
    ),
    Connector(
        "hubspot", "HubSpot", ("crm",), "#ff7a59", oauth=True,
        guide="Connect opens HubSpot's sign-in page; pick the portal to link.",
    ),
    Connector(
        "deel", "Deel", ("hris",), "#15357a",
        fields=(
            Field("api_token", "API Access Token",
                  hint="Deel: Apps & Integrations, Developer Center, Generate new token."),
            Field("environment", "Environment", "select", secret=False,
                  options=(("production", "Production"), ("sandbox", "Sandbox"))),
        ),
        guide="An organization token with read access to people.",
    ),
    Connector(
        "rippling", "Rippling", ("hris",), "#502d3c",
        fields=(Field("api_token", "API Token",
                      hint="Rippling: Settings, Company Settings, API Tokens."),),
        guide="Create an API token with read access to employees.",
    ),
)  # fmt: skip

BY_INTEGRATION_ID: dict[str, Connector] = {c.integration_id: c for c in CONNECTORS}
BY_KEY: dict[str, Connector] = {c.key: c for c in CONNECTORS}

LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="14" fill="{color}"/>'
    '<text x="32" y="41" font-family="Helvetica, Arial, sans-serif" font-size="26"'
    ' font-weight="700" fill="#fff" text-anchor="middle">{initials}</text></svg>'
)


def logo_svg(connector: Connector) -> str:
    """A small square logo: the connector's colour and initials (no outside image)."""
    return LOGO_SVG.format(color=connector.color, initials=monogram(connector.name))


def offered(session: dict[str, Any], provider: str | None = None) -> list[Connector]:
    """The connectors a session may link: its ``provider`` and ``categories`` filters,
    then the Hub's own ``?provider=`` query."""
    result = list(CONNECTORS)
    if session.get("provider"):
        result = [c for c in result if c.key == session["provider"]]
    if session.get("categories"):
        wanted = set(session["categories"])
        result = [c for c in result if wanted.intersection(c.categories)]
    if provider:
        result = [c for c in result if c.key == provider]
    return result


#: The data models a connector of each category offers (``GET /connectors/meta``).
MODELS: dict[str, tuple[str, ...]] = {
    "hris": ("employees", "employments", "companies", "locations", "time_off"),
    "ats": ("candidates", "applications", "jobs", "interviews", "offers"),
    "crm": ("contacts", "accounts", "lists"),
}


def models_of(category: str) -> dict[str, Any]:
    """The ``models`` of a connector of ``category``: each model's unified operations."""
    return {
        model: {
            "list": {"apiPath": f"/unified/{category}/{model}"},
            "get": {"apiPath": f"/unified/{category}/{model}/:id"},
        }
        for model in MODELS.get(category, ())
    }
