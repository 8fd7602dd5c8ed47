// Drive the StackOne sandbox with StackOne's official TypeScript SDK, which checks every
// answer against StackOne's schemas (zod). Run by tests/test_sdk.py:
//
//   SDK_DIR=<folder with node_modules/@stackone/stackone-client-ts> \
//   SANDBOX_URL=http://127.0.0.1:4010 SANDBOX_API_KEY=... node tests/sdk/drive.mjs
//
// Prints one JSON object: what each call returned (or the error it raised). Any schema
// failure of the SDK is an error in that report; the process exits 1 on an unexpected one.
import { createRequire } from "node:module";
import path from "node:path";

const { SDK_DIR, SANDBOX_URL, SANDBOX_API_KEY } = process.env;
const require = createRequire(path.join(SDK_DIR, "package.json"));
const { StackOne } = require("@stackone/stackone-client-ts");
const { HTTPClient } = require("@stackone/stackone-client-ts/lib/http.js");
const errors = require("@stackone/stackone-client-ts/sdk/models/errors/index.js");

// The one translation: StackOne's current spec (and the sandbox) send organization_id as a
// string; this SDK release (4.28.0) still declares a number. Only that field, only in the
// two connect-session answers that carry it.
const SESSION_PATHS = /\/connect_sessions(\/authenticate)?$/;
// Fields a newer SDK sends that this release does not know (integration_id, shared): set
// for one call by withFields(), added to that call's JSON body on its way out.
let extraFields = null;
async function withFields(fields, run) {
  extraFields = fields;
  try {
    return await run();
  } finally {
    extraFields = null;
  }
}
const httpClient = new HTTPClient({
  fetcher: async (request) => {
    if (extraFields) {
      const body = { ...(await request.clone().json()), ...extraFields };
      request = new Request(request, { body: JSON.stringify(body) });
    }
    const response = await fetch(request);
    if (!SESSION_PATHS.test(new URL(request.url).pathname) || !response.ok) {
      return response;
    }
    const body = await response.json();
    if (typeof body.organization_id === "string") body.organization_id = Number(body.organization_id);
    return new Response(JSON.stringify(body), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  },
});

const stackOne = new StackOne({
  serverURL: SANDBOX_URL,
  security: { username: SANDBOX_API_KEY, password: "" },
  httpClient,
  retryConfig: { strategy: "none" },
});

const report = { calls: {}, unexpected: [] };

async function call(name, run, { expect } = {}) {
  try {
    const value = await run();
    report.calls[name] = { ok: true, value };
    return value;
  } catch (error) {
    const kind = error && error.constructor ? error.constructor.name : typeof error;
    report.calls[name] = {
      ok: false,
      error: kind,
      status: error.statusCode ?? error.data$?.statusCode ?? null,
      message: String(error.message).slice(0, 2000),
    };
    if (kind !== expect) report.unexpected.push(name);
    return null;
  }
}

// What the Hub does once the customer fills in a connector's form.
async function link(token, integrationId, credentials) {
  const response = await fetch(`${SANDBOX_URL}/hub/accounts`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "x-hub-session-token": token },
    body: JSON.stringify({ integration_id: integrationId, credentials }),
  });
  if (response.status !== 201) throw new Error(`linking failed: ${response.status}`);
  return (await response.json()).id;
}

const session = await call("createConnectSession", async () => {
  const result = await stackOne.connectSessions.createConnectSession({
    originOwnerId: "org_sdk_1",
    originOwnerName: "SDK Ltd",
    originUsername: "ada@sdk.example",
    categories: ["hris"],
    label: "From the SDK",
    metadata: {},
    expiresIn: 600,
  });
  return result.connectSessionTokenAuthLink;
});
const second = await call("createConnectSession (second owner)", async () => {
  const result = await stackOne.connectSessions.createConnectSession({
    originOwnerId: "org_sdk_2",
    originOwnerName: "Other SDK Ltd",
  });
  return result.connectSessionTokenAuthLink;
});
await call("authenticateConnectSession", async () => {
  const result = await stackOne.connectSessions.authenticateConnectSession({ token: session.token });
  return result.connectSession;
});

const bamboo = await link(session.token, "sbx-bamboohr", { subdomain: "sdk", api_key: "k1" });
const hibob = await link(session.token, "sbx-hibob", {
  service_user_id: "SERVICE-1",
  service_user_token: "t",
});
const other = await link(second.token, "sbx-bamboohr", { subdomain: "other", api_key: "k2" });
report.linked = { bamboo, hibob, other };

const ids = (result) => (result.classes || []).map((account) => account.id);
await call("listLinkedAccounts", async () => ids(await stackOne.accounts.listLinkedAccounts({})));
await call("listLinkedAccounts originOwnerIds", async () =>
  ids(await stackOne.accounts.listLinkedAccounts({ originOwnerIds: ["org_sdk_1", "org_sdk_2"] })),
);
await call("listLinkedAccounts originOwnerId", async () =>
  ids(await stackOne.accounts.listLinkedAccounts({ originOwnerId: "org_sdk_2" })),
);
await call("listLinkedAccounts provider", async () =>
  ids(await stackOne.accounts.listLinkedAccounts({ provider: "hibob" })),
);
await call("listLinkedAccounts providers", async () =>
  ids(await stackOne.accounts.listLinkedAccounts({ providers: ["bamboohr"] })),
);
await call("listLinkedAccounts accountIds+status", async () =>
  ids(await stackOne.accounts.listLinkedAccounts({ accountIds: [bamboo, other], status: ["active"] })),
);
await call("listLinkedAccounts page", async () =>
  ids(await stackOne.accounts.listLinkedAccounts({ page: 2, pageSize: 2 })),
);
await call("getAccount", async () => (await stackOne.accounts.getAccount({ id: bamboo })).linkedAccount);
await call("updateAccount", async () =>
  (
    await stackOne.accounts.updateAccount({
      id: bamboo,
      patchAccountExternalDto: {
        originOwnerName: "SDK Limited",
        originUsername: "grace@sdk.example",
        provider: "bamboohr",
        environment: "production",
        authenticationConfigKey: "default",
        credentials: {},
        secrets: {},
        setupInformation: {},
        metadata: {},
        label: {},
      },
    })
  ).linkedAccount,
);
await call("updateAccount (type only)", async () =>
  (await stackOne.accounts.updateAccount({ id: hibob, patchAccountExternalDto: { type: "test" } }))
    .linkedAccount,
);
await call("updateAccount (integration_id, shared)", async () =>
  withFields({ integration_id: "sbx-bamboohr", shared: false, label: "Moved" }, async () =>
    (await stackOne.accounts.updateAccount({ id: hibob, patchAccountExternalDto: {} })).linkedAccount,
  ),
);
await call("updateAccount back to hibob", async () =>
  withFields({ integration_id: "sbx-hibob" }, async () =>
    (await stackOne.accounts.updateAccount({ id: hibob, patchAccountExternalDto: {} })).linkedAccount,
  ),
);
await call("createConnectSession (integration_id)", async () =>
  withFields({ integration_id: "cp_sdk" }, async () => {
    const result = await stackOne.connectSessions.createConnectSession({
      originOwnerId: "org_sdk_3",
      originOwnerName: "Third SDK Ltd",
    });
    return result.connectSessionTokenAuthLink;
  }),
);
await call("getAccountMetaInfo", async () =>
  (await stackOne.accounts.getAccountMetaInfo({ id: hibob })).linkedAccountMeta,
);
await call("listConnectorsMeta", async () =>
  (await stackOne.connectors.listConnectorsMeta({ include: "resources" })).classes,
);
await call("getConnectorMeta", async () =>
  (await stackOne.connectors.getConnectorMeta({ provider: "hibob", include: "resources,inactive" }))
    .connectorsMeta,
);
await call(
  "getConnectorMeta unknown",
  async () => (await stackOne.connectors.getConnectorMeta({ provider: "nope" })).connectorsMeta,
  { expect: "NotFoundResponse" },
);
await call("deleteAccount", async () => (await stackOne.accounts.deleteAccount({ id: other })).linkedAccount);
await call(
  "getAccount deleted",
  async () => (await stackOne.accounts.getAccount({ id: other })).linkedAccount,
  { expect: "NotFoundResponse" },
);

report.notFoundClass = typeof errors.NotFoundResponse === "function";
process.stdout.write(JSON.stringify(report));
process.exitCode = report.unexpected.length ? 1 : 0;
