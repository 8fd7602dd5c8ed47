/*
 * The sandbox's hosted auth-link page: show the pinned StackOne Hub for this link's
 * session. The link's own session token is checked (and its lifetime read) from the
 * sandbox, the Hub script is loaded with its SRI hash, and the Hub talks to the sandbox.
 */
(() => {
  "use strict";
  const root = document.getElementById("stackone-sandbox-hub");
  if (!root) return;
  const data = root.dataset;

  function say(text, className) {
    const line = document.createElement("p");
    line.className = className || "hint";
    line.setAttribute("role", className === "error" ? "alert" : "status");
    line.textContent = text;
    root.replaceChildren(line);
  }

  function loadScript() {
    if (customElements.get("stackone-hub")) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = data.hubSrc;
      script.integrity = data.hubIntegrity;
      script.crossOrigin = "anonymous";
      script.addEventListener("load", () => customElements.whenDefined("stackone-hub").then(resolve));
      script.addEventListener("error", () => reject(new Error("The StackOne Hub script could not be loaded.")));
      document.head.appendChild(script);
    });
  }

  async function session() {
    const response = await fetch(data.sessionUrl, { method: "POST", credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || typeof body.token !== "string") {
      throw new Error(body.message || "This link is not valid or has expired: ask for a new one.");
    }
    return body;
  }

  async function show() {
    let found;
    try {
      [found] = await Promise.all([session(), loadScript()]);
    } catch (error) {
      say(error.message, "error");
      return;
    }
    const hub = document.createElement("stackone-hub");
    hub.style.display = "block";
    hub.setAttribute("mode", "integration-picker");
    hub.setAttribute("height", "500px");
    hub.setAttribute("base-url", data.baseUrl);
    hub.setAttribute("app-url", data.baseUrl);
    hub.setAttribute("token", found.token);
    let linked = false;
    hub.addEventListener("success", (event) => {
      linked = true;
      const detail = event.detail || {};
      const note = document.createElement("p");
      note.className = "ok";
      note.setAttribute("role", "status");
      note.textContent = `Account ${detail.id || ""} linked. You can close this page.`;
      root.appendChild(note);
    });
    root.replaceChildren(hub);
    // The link lives as long as its session: say so when it runs out.
    const left = Math.max(1, Number(found.expires_in) || 1) * 1000;
    window.setTimeout(() => {
      if (!linked) say("This link has expired: ask for a new one.", "error");
    }, Math.min(left, 2147483647));
  }

  show();
})();
