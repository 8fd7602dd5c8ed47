/*
 * flask-stackone: the glue between {{ stackone_hub() }} placeholders and the StackOne Hub.
 *
 * For each [data-stackone-hub] element: POST the token route for a Connect Session token,
 * load the pinned Hub script (with its SRI hash) the first time a widget is shown, create
 * <stackone-hub>, renew the token while the Hub shows its connector list (the Hub forgets an
 * open form when its token changes), start it afresh with a notice when a token runs out
 * during a form or an OAuth sign-in, and when the Hub shows its expired state; confirm the
 * account server-side on `success`, then dispatch `stackone:linked`. Problems are shown as
 * readable text in the widget's place; a failed background renewal is retried and shown
 * only once the current token has run out. Requests and elements are made by common.js,
 * served before this. The messages come from the server in the page's language
 * (data-messages). Plain JS, no build step.
 */
(() => {
  "use strict";

  if (window.StackOneHubGlue) {
    window.StackOneHubGlue.scan();
    return;
  }

  const { RequestError, request, element, messages } = window.StackOneCommon;
  const NONCE = (document.currentScript && document.currentScript.nonce) || "";
  // What the Hub renders when its API answered 401/403 (an expired or unknown token).
  const EXPIRED_TEXTS = ["No configured integrations available.", "Failed to create account"];
  const EXPIRED_REFRESH_EVERY_MS = 60000;
  // The Hub's search box, there only while its connector list shows: nothing is typed yet,
  // so a new token loses nothing. On a new token the Hub 1.11.4 drops its data and, at the
  // next keystroke, reloads an open form empty; its OAuth poll keeps the token it began with.
  const LIST_SELECTOR = 'input[name="search"]';
  // How often the glue looks at the Hub and the clock.
  const WATCH_MS = 1000;
  // Where the Hub keeps a theme object and the light/dark mode it last rendered; it merges
  // both into every later render on this origin.
  const THEME_KEYS = ["malachite-custom-theme", "malachite-theme-mode"];
  // A failed background renewal is retried after 1 s, 2 s, 4 s ... at most 30 s apart.
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const scripts = new Map();
  const widgets = new WeakMap();

  // Defaults for our own messages; :where() keeps them weaker than any rule of the host.
  // A constructed stylesheet needs no 'unsafe-inline' in a content security policy.
  const STYLES = `
    :where(.stackone-hub-message) { box-sizing: border-box; display: flex; flex-direction: column;
      align-items: center; justify-content: center; gap: 12px; padding: 24px; text-align: center;
      min-height: var(--stackone-hub-height, 500px); border: 1px solid #e4e4e7;
      border-radius: 12px; font: 15px/1.5 system-ui, sans-serif; color: #27272a; }
    :where(.stackone-hub-message p) { margin: 0; }
    :where(.stackone-hub-detail) { color: #52525b; font-size: 13px; }
    :where(.stackone-hub-retry, .stackone-hub-button) { font: 500 14px/1 system-ui, sans-serif;
      padding: 10px 16px; border-radius: 8px; border: 1px solid #18181b; background: #18181b;
      color: #fff; cursor: pointer; }
    :where(.stackone-hub-notice) { padding: 16px 20px; border-radius: 12px;
      border: 1px solid #fcd34d; background: #fffbeb; color: #78350f;
      font: 14px/1.5 system-ui, sans-serif; }
    :where(.stackone-hub-notice p, .stackone-hub-notice ul) { margin: 0 0 8px; }
    :where(.stackone-hub-restarted) { margin-bottom: 12px; }`;

  function addStyles() {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    } catch (error) {
      // An old browser: the messages stay readable, only unstyled.
    }
  }

  class ScriptError extends Error {}

  function loadHubScript(src, integrity) {
    if (customElements.get("stackone-hub")) return Promise.resolve();
    if (!scripts.has(src)) {
      const loading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = src;
        script.integrity = integrity;
        script.crossOrigin = "anonymous";
        script.async = true;
        if (NONCE) script.nonce = NONCE;
        script.addEventListener("load", () => customElements.whenDefined("stackone-hub").then(resolve));
        script.addEventListener("error", () => {
          scripts.delete(src);
          script.remove();
          reject(new ScriptError("The StackOne Hub script could not be loaded."));
        });
        document.head.appendChild(script);
      });
      scripts.set(src, loading);
    }
    return scripts.get(src);
  }

  /** The visible text of a node, through open shadow roots (styles and scripts skipped). */
  function deepText(node) {
    const parts = [];
    const walk = (current) => {
      if (current.nodeType === Node.TEXT_NODE) {
        parts.push(current.data);
        return;
      }
      if (current.nodeName === "STYLE" || current.nodeName === "SCRIPT") return;
      if (current.shadowRoot) walk(current.shadowRoot);
      for (const child of current.childNodes) walk(child);
    };
    walk(node);
    return parts.join(" ");
  }

  /** The first element under ``node`` matching ``selector``, through open shadow roots. */
  function deepQuery(node, selector) {
    const found = node.querySelector(selector);
    if (found) return found;
    for (const child of node.querySelectorAll("*")) {
      if (child.shadowRoot) {
        const inside = deepQuery(child.shadowRoot, selector);
        if (inside) return inside;
      }
    }
    return null;
  }

  function sameOrigin(url) {
    try {
      const target = new URL(url, window.location.href);
      return target.origin === window.location.origin ? target.href : null;
    } catch (error) {
      return null;
    }
  }

  class Widget {
    constructor(root) {
      this.root = root;
      const data = root.dataset;
      this.data = data;
      try {
        this.options = JSON.parse(data.options || "{}");
      } catch (error) {
        this.options = {};
      }
      this.text = messages(data.messages);
      this.lazy = data.lazy === "true";
      root.style.setProperty("--stackone-hub-height", data.height || "500px");
      const button = root.querySelector("[data-stackone-open]");
      this.buttonLabel = (button && button.textContent) || this.text("connect");
      this.hub = null;
      this.refreshFailures = 0;
      this.expiresAt = 0;
      this.renewAt = 0;
      this.watchTimer = 0;
      this.lastExpiredRefresh = -Infinity;
      this.refreshing = null;
      this.confirmed = new Set();
      this.destroyed = false;
      if (this.lazy) {
        this.showButton();
      } else {
        this.show();
      }
    }

    dispatch(name, detail) {
      this.root.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
    }

    showButton() {
      this.unmount();
      let button = this.root.querySelector("[data-stackone-open]");
      if (!button) {
        button = element("button", "stackone-hub-button", this.buttonLabel);
        button.type = "button";
        button.setAttribute("data-stackone-open", "");
        this.root.replaceChildren(button);
      }
      button.addEventListener("click", () => this.show(), { once: true });
    }

    async show() {
      if (this.destroyed) return;
      this.message(this.text("loading"), { role: "status" });
      let session;
      try {
        [session] = await Promise.all([
          this.fetchToken(),
          loadHubScript(this.data.hubSrc, this.data.hubIntegrity),
        ]);
      } catch (error) {
        if (!this.destroyed) this.fail(error, "session");
        return;
      }
      if (!this.destroyed) this.mount(session);
    }

    /** Stop for good: timers cleared, the Hub removed, nothing shown again. */
    destroy() {
      this.destroyed = true;
      this.unmount();
    }

    fetchToken() {
      const asked = Date.now();
      return request("POST", this.data.tokenUrl, { body: this.options }).then((session) => {
        if (typeof session.token !== "string" || !session.token) {
          throw new RequestError(502, "invalid_session", this.text("no_token"));
        }
        // Counted from the request, on this browser's clock: never later than the server's.
        const lifetime = Math.max(1, Number(session.expires_in) || 1800) * 1000;
        return { token: session.token, lifetime, expiresAt: asked + lifetime };
      });
    }

    /** Show a new Hub with ``session``'s token; ``notice`` (a text) goes above it. */
    mount(session, notice = null) {
      const hub = document.createElement("stackone-hub");
      hub.style.display = "block";
      hub.setAttribute("mode", "integration-picker");
      hub.setAttribute("height", this.data.height || "500px");
      const attributes = {
        "base-url": this.data.baseUrl,
        "app-url": this.data.appUrl,
        theme: this.data.theme,
        "account-id": this.data.accountId,
        "show-footer-links": this.data.showFooterLinks,
        "on-close-label": this.data.onCloseLabel,
        debug: this.data.debug,
      };
      // Exactly the theme this widget asks for: forget one another page of the site stored.
      try {
        for (const key of THEME_KEYS) window.localStorage.removeItem(key);
      } catch (error) {
        // Storage is blocked: then the Hub cannot have stored a theme either.
      }
      for (const [name, value] of Object.entries(attributes)) {
        if (value) hub.setAttribute(name, value);
      }
      hub.addEventListener("success", (event) => this.onSuccess(event.detail || {}));
      hub.addEventListener("close", () => this.onClose());
      const above = [];
      if (notice) {
        above.push(element("div", "stackone-hub-notice stackone-hub-restarted", notice));
        above[0].setAttribute("role", "alert");
      }
      this.root.replaceChildren(...above, hub);
      this.hub = hub;
      this.setToken(session);
      this.watchTimer = window.setInterval(() => this.watch(), WATCH_MS);
    }

    unmount() {
      window.clearInterval(this.watchTimer);
      if (this.hub) this.hub.remove();
      this.hub = null;
    }

    setToken(session) {
      this.hub.setAttribute("token", session.token);
      this.expiresAt = session.expiresAt;
      this.refreshFailures = 0;
      // Renewed at the connector list once half its life is over: a form opened from the
      // list always has at least half a session's lifetime to be filled in.
      this.renewAt = session.expiresAt - session.lifetime / 2;
    }

    /** What the Hub shows: ``"expired"`` (StackOne refused its token), ``"list"`` (its
     * connector list: nothing typed yet) or ``"busy"`` (a form, an OAuth sign-in, loading). */
    view() {
      if (EXPIRED_TEXTS.some((marker) => deepText(this.hub).includes(marker))) return "expired";
      return deepQuery(this.hub, LIST_SELECTOR) ? "list" : "busy";
    }

    /** Every second while the page is visible: renew at the connector list when due, start
     * afresh once the token ran out (with a notice when a form or sign-in was under way, as
     * the Hub's calls would be refused from now on), or after the Hub's expired state. */
    watch() {
      if (!this.hub || document.hidden) return;
      const view = this.view();
      const now = Date.now();
      if (view === "expired") {
        // Once a minute at most, so a project with no connectors does not loop.
        if (now - this.lastExpiredRefresh < EXPIRED_REFRESH_EVERY_MS) return;
        this.lastExpiredRefresh = now;
        this.refresh({ restart: true });
      } else if (now >= this.expiresAt) {
        this.refresh({ restart: true, notice: view === "busy" ? this.text("restarted") : null });
      } else if (view === "list" && now >= this.renewAt) {
        this.refresh();
      }
    }

    /** A background renewal failed while the Hub still has a token: keep the Hub, which
     * works until that token runs out. A passing failure (network, 408, 429, 5xx) is tried
     * again with backoff; any failure shows once the token has run out and asking again
     * (the restart) fails too. */
    renewalFailed(error) {
      const status = error instanceof RequestError ? error.status : 0;
      const passing = status === 0 || status === 408 || status === 429 || status >= 500;
      if (!passing) {
        this.renewAt = Infinity;
        return;
      }
      const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.refreshFailures);
      this.refreshFailures += 1;
      this.renewAt = Date.now() + backoff;
    }

    /** Fetch the next token. Without ``restart`` it replaces the token only if the connector
     * list still shows when it arrives; ``restart`` builds a new element (the Hub keeps an
     * empty connector list after a refused token, even when given a new one) with ``notice``
     * above it. */
    refresh({ restart = false, notice = null } = {}) {
      if (!this.refreshing) {
        this.refreshing = this.fetchToken()
          .then((session) => {
            if (!this.hub) return;
            if (restart) {
              this.unmount();
              this.mount(session, notice);
            } else if (this.view() === "list") {
              this.setToken(session);
            } else {
              this.renewAt = Date.now(); // a form opened meanwhile: renew back at the list
            }
          })
          .catch((error) => {
            if (!this.hub) return;
            if (restart) {
              this.fail(error, "session");
            } else {
              this.renewalFailed(error);
            }
          })
          .finally(() => {
            this.refreshing = null;
          });
      }
      return this.refreshing;
    }

    async onSuccess(detail) {
      const id = typeof detail.id === "string" ? detail.id : String(detail.id || "");
      if (!id || this.confirmed.has(id)) return;
      this.confirmed.add(id);
      // Linked: the token is no longer needed, and a notice about a restart is stale.
      window.clearInterval(this.watchTimer);
      const restarted = this.root.querySelector(".stackone-hub-restarted");
      if (restarted) restarted.remove();
      let account = { id, provider: detail.provider || null, status: null, status_reasons: [] };
      if (this.data.confirm !== "false") {
        try {
          account = await this.confirm(id);
        } catch (error) {
          this.confirmed.delete(id);
          this.fail(error, "confirm", () => this.onSuccess(detail));
          return;
        }
      }
      this.dispatch("stackone:linked", account);
      const next = this.data.redirectTo ? sameOrigin(this.data.redirectTo) : null;
      if (account.status && account.status !== "active") {
        this.showStatus(account, next);
      } else if (next) {
        window.location.assign(next);
      }
    }

    confirm(id) {
      const url = this.data.confirmUrl.replace("ACCOUNT_ID", encodeURIComponent(id));
      return request("POST", url, { body: this.data.accountId ? { reconnect: true } : {} });
    }

    /** The account is linked but not usable: this notice replaces the Hub, whose own
     * screen says "Connection Successful", so the page tells one story. */
    showStatus(account, next) {
      this.unmount();
      const notice = element("div", "stackone-hub-notice");
      notice.setAttribute("role", "alert");
      notice.replaceChildren(
        element(
          "p",
          "stackone-hub-status",
          this.text("not_usable", { status: account.status }),
        ),
      );
      const reasons = Array.isArray(account.status_reasons) ? account.status_reasons : [];
      if (reasons.length) {
        const list = element("ul", "stackone-hub-reasons");
        for (const reason of reasons) {
          const text = [reason.description, reason.code && `(${reason.code})`].filter(Boolean);
          list.appendChild(element("li", null, text.join(" ") || this.text("no_reason")));
        }
        notice.appendChild(list);
      }
      if (next) {
        const link = element("a", "stackone-hub-continue", this.text("continue"));
        link.href = next;
        notice.appendChild(link);
      } else {
        const close = element("button", "stackone-hub-retry", this.text("close"));
        close.type = "button";
        close.addEventListener("click", () => this.onClose(), { once: true });
        notice.appendChild(close);
      }
      this.root.replaceChildren(notice);
    }

    onClose() {
      if (this.lazy) {
        this.root.replaceChildren();
        this.showButton();
      } else {
        this.show();
      }
    }

    message(text, { role = "alert", retry = null, detail = null } = {}) {
      this.unmount();
      const box = element("div", "stackone-hub-message");
      box.setAttribute("role", role);
      box.appendChild(element("p", null, text));
      if (detail) box.appendChild(element("p", "stackone-hub-detail", detail));
      if (retry) {
        const button = element("button", "stackone-hub-retry", this.text("retry"));
        button.type = "button";
        button.addEventListener("click", retry, { once: true });
        box.appendChild(button);
      }
      this.root.replaceChildren(box);
    }

    fail(error, stage, retryWith) {
      const retry = retryWith || (() => this.show());
      const status = error instanceof RequestError ? error.status : null;
      const code = error instanceof RequestError ? error.code : null;
      this.dispatch("stackone:error", { stage, status, error: code, message: error.message });
      if (error instanceof ScriptError) {
        this.message(this.text("blocked"), { retry });
      } else if (status === 401) {
        this.message(this.text("signed_out"));
      } else if (code === "not_configured") {
        this.message(this.text("not_configured"), { retry });
      } else if (status === 502 || status === 503 || status === 504) {
        this.message(this.text("unavailable"), { retry });
      } else if (status === 0) {
        this.message(this.text("offline"), { retry });
      } else if (stage === "confirm") {
        this.message(this.text("not_confirmed"), {
          detail: error.message,
          retry: status >= 500 ? retry : null,
        });
      } else {
        this.message(this.text("not_started"), {
          detail: error.message,
          retry: status >= 500 ? retry : null,
        });
      }
    }
  }

  function init(root) {
    if (!widgets.has(root)) widgets.set(root, new Widget(root));
    return widgets.get(root);
  }

  function scan() {
    document.querySelectorAll("[data-stackone-hub]").forEach(init);
  }

  /** Stop the widget of ``root`` (a placeholder about to be removed from the page). */
  function destroy(root) {
    const widget = widgets.get(root);
    if (widget) widget.destroy();
    widgets.delete(root);
  }

  addStyles();
  window.StackOneHubGlue = Object.freeze({ init, scan, destroy });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan, { once: true });
  } else {
    scan();
  }
})();
