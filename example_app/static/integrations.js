/*
 * Integrations page: when the widget reports an account linked with a status other than
 * active (it then shows why, and stays on the page), reload the "Connected systems" list
 * so the new account and its reasons appear without a click.
 */
(() => {
  "use strict";

  async function refreshList() {
    const current = document.getElementById("linked-accounts");
    if (!current) return;
    const response = await fetch(window.location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("linked-accounts");
    if (fresh) current.replaceWith(document.importNode(fresh, true));
  }

  document.addEventListener("stackone:linked", (event) => {
    const account = event.detail || {};
    if (account.status && account.status !== "active") refreshList();
  });
})();
