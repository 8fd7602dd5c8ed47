/*
 * flask-stackone: what the glue (hub.js) and the accounts panel's script (accounts.js) share.
 *
 * Served at the start of each of them, so a page loads one script per part; on a page with
 * both, the first one defines `window.StackOneCommon` and the second one uses it.
 * Plain JS, no build step.
 */
(() => {
  "use strict";

  if (window.StackOneCommon) return;

  /** What a person can do about a CSRF refusal (a session that expired, most often): in the
   * page's language from a widget's or panel's message table, in English without one. */
  function csrfFix() {
    const node = document.querySelector("[data-messages]");
    const text = node ? messages(node.getAttribute("data-messages"))("csrf_fix") : "csrf_fix";
    return text === "csrf_fix" ? "Reload the page and try again." : text;
  }
  /** What the developer can do, in the console. */
  const CSRF_SETUP =
    "flask-stackone: Flask-WTF refused the request's CSRF token. The widget and the accounts " +
    "panel send the token of the session they were rendered in; a page cached across " +
    'sessions, or a page without them, needs <meta name="csrf-token" content="{{ csrf_token() }}">.';

  /** A request to the blueprint failed: its HTTP status (0: no answer), error code, message. */
  class RequestError extends Error {
    constructor(status, code, message) {
      let text = message || `The request failed (HTTP ${status}).`;
      if (code === "csrf_failed") {
        text = `${text} ${csrfFix()}`;
        console.error(CSRF_SETUP);
      }
      super(text);
      this.status = status;
      this.code = code || null;
    }
  }

  /**
   * Flask-WTF's CSRF token: the page's own meta tag, else the one our widget or panel
   * carries (rendered by the macro when CSRFProtect is on); "" when there is none.
   */
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    const carrier = document.querySelector("[data-stackone-csrf-token]");
    return carrier ? carrier.getAttribute("data-stackone-csrf-token") : "";
  }

  /** Our routes require X-StackOne-Request; the CSRF token (Flask-WTF) goes on POSTs. */
  function requestHeaders(method, accept) {
    const headers = { Accept: accept, "X-StackOne-Request": "1" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      const csrf = csrfToken();
      if (csrf) headers["X-CSRFToken"] = csrf;
    }
    return headers;
  }

  /**
   * Call one of the blueprint's routes; a POST sends `body` as JSON. Resolves to the JSON
   * answer (`{}` when empty), or to the text when `accept` is not JSON.
   * Rejects with a RequestError: status 0 when the server could not be reached.
   */
  async function request(method, url, { body = null, accept = "application/json" } = {}) {
    let response;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        cache: "no-store",
        headers: requestHeaders(method, accept),
        body: method === "GET" ? undefined : JSON.stringify(body || {}),
      });
    } catch (error) {
      throw new RequestError(0, "network", "This page could not reach the server.");
    }
    if (response.ok && accept !== "application/json") return response.text();
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      throw new RequestError(response.status, data && data.error, data && data.message);
    }
    return data || {};
  }

  /** A new element with an optional class and text. */
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  /**
   * The messages the server rendered into a data attribute (JSON, in the page's language).
   * Returns `text(key, values)`: the message with its `%(name)s` filled from `values`.
   */
  function messages(json) {
    let table = {};
    try {
      table = JSON.parse(json || "{}") || {};
    } catch (error) {
      table = {};
    }
    return (key, values = {}) =>
      String(table[key] || key).replace(/%\((\w+)\)s/g, (match, name) =>
        name in values ? String(values[name]) : match,
      );
  }

  window.StackOneCommon = Object.freeze({ RequestError, request, element, messages });
})();
