/*
 * flask-stackone: the script of {{ stackone_accounts() }} panels.
 *
 * The server renders the list; this script runs its buttons and keeps the list up to date
 * without a reload, with rows the list route renders (the same template as the page's).
 * Re-connect and Add open the StackOne Hub (through the widget's glue, hub.js) in a
 * <dialog>; Disconnect asks for confirmation in place, then POSTs the disconnect route.
 * Each outcome is announced in the panel's aria-live region and dispatched as a DOM event:
 * `stackone:linked` (from the glue), `stackone:reconnected`, `stackone:disconnected`.
 * The panel follows the page: when any other widget or panel on it links, re-connects or
 * disconnects an account (those same events, bubbling to the document), it reloads its rows.
 * Requests and elements are made by common.js, served before this. The messages come from
 * the server in the page's language (data-messages), and so does the locale of the times.
 * No inline handlers, no inline styles; plain JS, no build step.
 */
(() => {
  "use strict";

  if (window.StackOneAccounts) {
    window.StackOneAccounts.scan();
    return;
  }

  const { RequestError, request, element, messages } = window.StackOneCommon;
  const panels = new WeakMap();
  const PLACEHOLDER = "ACCOUNT_ID";
  let confirmCount = 0;

  /** A button of the panel; `classes` is the class attribute of its kind (data-buttons). */
  function button(label, action, classes) {
    const node = element("button", classes || "stackone-button", label);
    node.type = "button";
    node.setAttribute("data-stackone-action", action);
    return node;
  }

  const timeFormats = new Map();
  function localTime(node, locale) {
    const moment = new Date(node.dateTime);
    if (Number.isNaN(moment.getTime())) return;
    try {
      if (!timeFormats.has(locale)) {
        // As the server writes it (day, short month, year, hours, minutes), in local time.
        const options = { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" };
        timeFormats.set(locale, new Intl.DateTimeFormat(locale || undefined, options));
      }
      node.textContent = timeFormats.get(locale).format(moment);
      node.title = moment.toISOString();
    } catch (error) {
      // An old browser: the server's UTC text stays.
    }
  }

  function problemText(text, error, action) {
    const status = error instanceof RequestError ? error.status : 0;
    if (status === 401) return text("signed_out");
    if (status === 0) return text("offline");
    if (status === 502 || status === 503 || status === 504) return text("unavailable");
    if (error.code === "not_configured") return text("not_configured");
    if (error.code === "receiver_failed") return text("not_recorded");
    const what = action === "disconnect" ? "not_disconnected" : "not_loaded";
    return text(what, { reason: error.message });
  }

  class Panel {
    constructor(root) {
      this.root = root;
      const data = root.dataset;
      this.hub = this.json(data.hub);
      this.addOptions = this.json(data.addOptions);
      this.buttons = this.json(data.buttons);
      this.text = messages(data.messages);
      this.locale = data.locale || "";
      this.list = root.querySelector(".stackone-accounts-list");
      this.empty = root.querySelector(".stackone-accounts-empty");
      this.header = root.querySelector(".stackone-accounts-header");
      this.announcer = root.querySelector(".stackone-accounts-announcement");
      this.dialog = root.querySelector(".stackone-accounts-dialog");
      this.dialogTitle = root.querySelector(".stackone-accounts-dialog-title");
      this.hubSlot = root.querySelector(".stackone-accounts-hub");
      this.hubRoot = null;
      this.context = null;
      this.announceTimer = 0;
      this.followTimer = 0;
      root.addEventListener("click", (event) => this.onClick(event));
      root.addEventListener("keydown", (event) => this.onKeydown(event));
      root.addEventListener("error", (event) => this.onImageError(event), true);
      root.addEventListener("stackone:linked", (event) => this.onLinked(event));
      for (const type of ["stackone:linked", "stackone:disconnected"]) {
        document.addEventListener(type, (event) => this.onElsewhere(event));
      }
      if (this.dialog) {
        // Escape: clean up at once, not in the later task where "close" fires.
        for (const type of ["cancel", "close"]) {
          this.dialog.addEventListener(type, (event) => {
            if (event.target === this.dialog) this.closeHub();
          });
        }
        // The Hub's own Close button (after a success): the glue would start a new
        // session; this panel closes its dialog instead, before the glue sees the event.
        this.hubSlot.addEventListener(
          "close",
          (event) => {
            if (event.target !== this.dialog) this.closeHub();
          },
          true,
        );
      }
      this.enhance(root);
      // Rows from the host's own store: StackOne's live status replaces them after load.
      if (data.problem === "loading" || data.refresh === "stored") this.refresh();
    }

    json(text) {
      try {
        return JSON.parse(text || "{}") || {};
      } catch (error) {
        return {};
      }
    }

    dispatch(name, detail) {
      this.root.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
    }

    announce(text) {
      if (!this.announcer) return;
      // Emptied first, so the same sentence twice is announced twice.
      window.clearTimeout(this.announceTimer);
      this.announcer.textContent = "";
      this.announceTimer = window.setTimeout(() => {
        this.announcer.textContent = text;
      }, 60);
    }

    /** Local times, and monograms in place of logos that failed before this ran. */
    enhance(scope) {
      scope.querySelectorAll("time[datetime]").forEach((node) => localTime(node, this.locale));
      scope.querySelectorAll("img.stackone-account-img").forEach((img) => {
        if (img.complete && img.naturalWidth === 0) img.remove();
      });
    }

    onImageError(event) {
      const target = event.target;
      if (target instanceof HTMLImageElement && target.classList.contains("stackone-account-img")) {
        target.remove(); // the monogram underneath shows (no logo, or the page's CSP refused it)
      }
    }

    rowOf(node) {
      return node.closest(".stackone-account");
    }

    nameOf(row) {
      return (row && row.dataset.name) || this.text("this_system");
    }

    onClick(event) {
      const target = event.target.closest("[data-stackone-action]");
      if (!target || !this.root.contains(target) || target.disabled) return;
      const row = this.rowOf(target);
      switch (target.dataset.stackoneAction) {
        case "add":
          this.openHub("add", null, this.root.dataset.addLabel);
          break;
        case "reconnect":
          this.openHub("reconnect", row.dataset.accountId, this.nameOf(row));
          break;
        case "disconnect":
          this.askDisconnect(row);
          break;
        case "confirm-disconnect":
          this.disconnect(row);
          break;
        case "cancel-disconnect":
          this.cancelDisconnect(row);
          break;
        case "close":
          this.closeHub();
          break;
        case "retry":
          this.refresh();
          break;
        default:
          break;
      }
    }

    onKeydown(event) {
      if (event.key !== "Escape") return;
      const confirm = event.target.closest && event.target.closest(".stackone-account-confirm");
      if (confirm && !confirm.hasAttribute("aria-busy")) {
        event.preventDefault();
        this.cancelDisconnect(this.rowOf(confirm));
      }
    }

    // -- the Hub, in a dialog -------------------------------------------------------------

    openHub(mode, accountId, name) {
      if (!this.dialog || !window.StackOneHubGlue || !this.hub.hub_src) {
        this.announce(this.text("hub_missing"));
        return;
      }
      this.closeHub({ restoreFocus: false });
      const hub = element("div", "stackone-hub");
      const options = mode === "reconnect" ? { account_id: accountId } : this.addOptions;
      const data = {
        tokenUrl: this.hub.token_url,
        confirmUrl: this.hub.confirm_url,
        confirm: "true",
        options: JSON.stringify(options),
        hubSrc: this.hub.hub_src,
        hubIntegrity: this.hub.integrity,
        height: this.hub.height,
        baseUrl: this.hub.base_url,
        appUrl: this.hub.app_url,
        theme: this.hub.theme,
        accountId: mode === "reconnect" ? accountId : null,
        messages: JSON.stringify(this.hub.messages || {}),
      };
      for (const [key, value] of Object.entries(data)) {
        if (value) hub.dataset[key] = value;
      }
      this.context = { mode, accountId, name };
      this.dialogTitle.textContent = mode === "reconnect" ? this.text("reconnect_title", { name }) : name;
      this.hubSlot.replaceChildren(hub);
      this.hubRoot = hub;
      this.dialog.showModal();
      window.StackOneHubGlue.init(hub);
    }

    closeHub({ restoreFocus = true } = {}) {
      const context = this.context;
      if (this.hubRoot) {
        window.StackOneHubGlue.destroy(this.hubRoot);
        this.hubRoot.remove();
        this.hubRoot = null;
      }
      this.context = null;
      if (this.dialog && this.dialog.open) this.dialog.close();
      if (restoreFocus && context) this.focusAfter(context.accountId, context.mode);
    }

    focusAfter(accountId, action) {
      let target = null;
      if (accountId) {
        const row = this.findRow(accountId);
        target = row && row.querySelector(`[data-stackone-action="${action}"]`);
      }
      target =
        target ||
        [...this.root.querySelectorAll('[data-stackone-action="add"]')].find((b) => !b.closest("[hidden]") && !b.hidden) ||
        this.root.querySelector(".stackone-accounts-title");
      if (target) target.focus();
    }

    findRow(accountId) {
      return [...this.list.children].find((row) => row.dataset.accountId === accountId) || null;
    }

    async onLinked(event) {
      const context = this.context;
      if (!context || !this.hubRoot || !this.hubRoot.contains(event.target)) return;
      const account = event.detail || {};
      this.closeHub({ restoreFocus: false });
      if (context.mode === "reconnect") this.dispatch("stackone:reconnected", account);
      const loaded = await this.refresh();
      const row = account.id ? this.findRow(String(account.id)) : null;
      const name = row
        ? this.nameOf(row)
        : context.mode === "reconnect"
          ? context.name
          : account.provider || this.text("the_system");
      const done = this.text(context.mode === "reconnect" ? "reconnected" : "connected", { name });
      const status =
        account.status && account.status !== "active"
          ? ` ${this.text("needs_attention", { status: account.status })}`
          : "";
      if (loaded) this.announce(done + status);
      this.focusAfter(account.id ? String(account.id) : context.accountId, "reconnect");
    }

    /** Another widget or panel of the page changed an account: show the list as it is now. */
    onElsewhere(event) {
      // The path as dispatched: this panel's own Hub may be gone from the page by now.
      if (!this.root.isConnected || event.composedPath().includes(this.root)) return;
      window.clearTimeout(this.followTimer);
      // Events that come together (a Hub's linked, then a panel's) reload the rows once.
      this.followTimer = window.setTimeout(() => this.refresh(), 0);
    }

    // -- the list ----------------------------------------------------------------------------

    async refresh() {
      const retry = this.root.querySelector('[data-stackone-action="retry"]');
      if (retry) retry.disabled = true;
      let rows;
      try {
        rows = await request("GET", this.root.dataset.listUrl, { accept: "text/html" });
      } catch (error) {
        if (retry) retry.disabled = false;
        this.showProblem(error);
        return false;
      }
      this.root.querySelectorAll(".stackone-accounts-problem").forEach((node) => node.remove());
      this.root.dataset.problem = "";
      this.render(rows);
      return true;
    }

    showProblem(error) {
      const text = problemText(this.text, error, "list");
      if (this.list.children.length) {
        this.announce(this.text("not_refreshed", { problem: text }));
        return;
      }
      this.root.querySelectorAll(".stackone-accounts-problem").forEach((node) => node.remove());
      const box = element("div", "stackone-accounts-problem");
      box.setAttribute("role", "alert");
      box.appendChild(element("p", null, text));
      const status = error instanceof RequestError ? error.status : 0;
      if (status === 0 || status >= 500) box.appendChild(button(this.text("retry"), "retry", this.buttons.plain));
      this.announcer.after(box);
      this.root.dataset.problem = "failed";
      this.updateEmpty();
    }

    /** Show the rows the server rendered (its templates escape every value). */
    render(rows) {
      this.list.innerHTML = rows;
      this.updateEmpty();
      this.enhance(this.list);
    }

    updateEmpty() {
      const count = this.list.children.length;
      const failed = Boolean(this.root.dataset.problem);
      this.list.hidden = count === 0;
      if (this.empty) this.empty.hidden = count > 0 || failed;
      const add = this.header && this.header.querySelector('[data-stackone-action="add"]');
      if (add) add.hidden = count === 0;
    }

    // -- disconnecting -------------------------------------------------------------------------

    askDisconnect(row) {
      const actions = row.querySelector(".stackone-account-actions");
      if (!actions || row.querySelector(".stackone-account-confirm")) return;
      const name = this.nameOf(row);
      confirmCount += 1;
      const question = element("p", null, this.text("ask", { name }));
      question.id = `${this.root.id || "stackone-accounts"}-confirm-${confirmCount}`;
      const confirm = element("div", "stackone-account-confirm");
      confirm.setAttribute("role", "group");
      confirm.setAttribute("aria-labelledby", question.id);
      const yes = button(this.text("yes"), "confirm-disconnect", this.buttons.confirm);
      yes.setAttribute("aria-label", this.text("yes_label", { name }));
      const no = button(this.text("cancel"), "cancel-disconnect", this.buttons.plain);
      confirm.append(question, yes, no);
      actions.hidden = true;
      actions.after(confirm);
      no.focus(); // the safe choice first: Enter twice never deletes anything
    }

    cancelDisconnect(row) {
      if (!row) return;
      const confirm = row.querySelector(".stackone-account-confirm");
      if (confirm) confirm.remove();
      const actions = row.querySelector(".stackone-account-actions");
      if (actions) actions.hidden = false;
      const again = row.querySelector('[data-stackone-action="disconnect"]');
      if (again) again.focus();
    }

    async disconnect(row) {
      const confirm = row.querySelector(".stackone-account-confirm");
      const yes = confirm.querySelector('[data-stackone-action="confirm-disconnect"]');
      const buttons = [...confirm.querySelectorAll("button")];
      const id = row.dataset.accountId;
      const name = this.nameOf(row);
      const label = yes.textContent;
      row.setAttribute("aria-busy", "true");
      confirm.setAttribute("aria-busy", "true");
      buttons.forEach((node) => {
        node.disabled = true;
      });
      yes.textContent = this.text("disconnecting");
      let result;
      try {
        const url = this.root.dataset.disconnectUrl.replace(PLACEHOLDER, encodeURIComponent(id));
        result = await request("POST", url);
      } catch (error) {
        row.removeAttribute("aria-busy");
        confirm.removeAttribute("aria-busy");
        yes.textContent = label;
        buttons.forEach((node) => {
          node.disabled = false;
        });
        if (error instanceof RequestError && error.status === 404) {
          this.removeRow(row);
          this.announce(this.text("already", { name }));
          return;
        }
        this.announce(problemText(this.text, error, "disconnect"));
        if (error instanceof RequestError && error.code === "receiver_failed") this.refresh();
        else yes.focus();
        return;
      }
      this.removeRow(row);
      this.dispatch("stackone:disconnected", {
        id,
        provider: (result && result.provider) || row.dataset.provider || null,
        name,
      });
      this.announce(this.text("disconnected", { name }));
    }

    removeRow(row) {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      this.updateEmpty();
      const target =
        (next && next.querySelector("[data-stackone-action]")) ||
        (this.empty && !this.empty.hidden && this.empty.querySelector("button")) ||
        this.root.querySelector(".stackone-accounts-title");
      if (target) target.focus();
    }
  }

  function init(root) {
    if (!panels.has(root)) panels.set(root, new Panel(root));
    return panels.get(root);
  }

  function scan() {
    document.querySelectorAll("[data-stackone-accounts]").forEach(init);
  }

  window.StackOneAccounts = Object.freeze({ init, scan });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan, { once: true });
  } else {
    scan();
  }
})();
