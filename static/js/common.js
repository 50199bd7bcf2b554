// Bits every page uses: CSRF token, JSON fetch with the API's error shape, toasts, and
// the shortcuts every page shares (d: dark mode).
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // fetch JSON; resolves {ok, status, data}. The API answers errors as
  // {"error": "...", "errors": [{"field", "message"}]}.
  async function api(url, method, body) {
    const opts = { method: method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (opts.method !== "GET") opts.headers["X-CSRFToken"] = csrfToken();
    const r = await fetch(url, opts);
    let data = null;
    const type = r.headers.get("Content-Type") || "";
    if (type.includes("json")) data = await r.json();
    else data = { text: await r.text() };
    return { ok: r.ok, status: r.status, data };
  }

  let toastTimer = null;
  function toast(text, ms) {
    let el = document.getElementById("toast");
    if (!el) {
      el = document.createElement("div");
      el.id = "toast";
      el.className = "toast";
      el.setAttribute("role", "status");
      document.body.appendChild(el);
    }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (el.hidden = true), ms || 2500);
  }

  function download(name, blobOrText, type) {
    const blob = blobOrText instanceof Blob ? blobOrText : new Blob([blobOrText], { type: type || "text/plain" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
  }

  function readJsonScript(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function fmtInt(n) {
    return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const help = document.getElementById("help-button");
    if (help) help.addEventListener("click", () => window.PagemigKeys.showHelp());
  });
  if (window.PagemigKeys) window.PagemigKeys.add("d", "Dark mode on / off", () => window.PagemigTheme.toggle());

  window.Pagemig = { csrfToken, api, toast, download, readJsonScript, fmtInt };
})();
