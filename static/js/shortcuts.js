// Keyboard shortcuts with a help overlay on "?". Pages register their keys:
//   PagemigKeys.add("space", "Pause / resume", fn)
(function () {
  "use strict";
  const keys = [];
  let overlay = null;

  function name(ev) {
    if (ev.key === " ") return "space";
    return ev.key;
  }

  function add(key, help, fn) {
    keys.push({ key, help, fn });
  }

  function showHelp() {
    if (overlay) {
      hideHelp();
      return;
    }
    overlay = document.createElement("div");
    overlay.className = "overlay";
    overlay.id = "help-overlay";
    const panel = document.createElement("div");
    panel.className = "panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Keyboard shortcuts");
    const h = document.createElement("h2");
    h.textContent = "Keyboard shortcuts";
    panel.appendChild(h);
    const t = document.createElement("table");
    const all = keys.concat([{ key: "?", help: "Show or hide this help" }, { key: "Escape", help: "Close" }]);
    for (const k of all) {
      const tr = document.createElement("tr");
      const a = document.createElement("td");
      const kbd = document.createElement("kbd");
      const shown = { space: "Space", ArrowRight: "→", ArrowLeft: "←", ArrowUp: "↑", ArrowDown: "↓", Escape: "Esc" };
      kbd.textContent = shown[k.key] || k.key;
      a.appendChild(kbd);
      const b = document.createElement("td");
      b.textContent = k.help;
      tr.appendChild(a);
      tr.appendChild(b);
      t.appendChild(tr);
    }
    panel.appendChild(t);
    overlay.appendChild(panel);
    overlay.addEventListener("click", (ev) => {
      if (ev.target === overlay) hideHelp();
    });
    document.body.appendChild(overlay);
  }

  function hideHelp() {
    if (overlay) overlay.remove();
    overlay = null;
  }

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = name(ev);
    if (k === "?") {
      ev.preventDefault();
      showHelp();
      return;
    }
    if (k === "Escape") {
      hideHelp();
      return;
    }
    for (const s of keys) {
      if (s.key === k) {
        ev.preventDefault();
        s.fn(ev);
        return;
      }
    }
  });

  window.PagemigKeys = { add, showHelp, hideHelp };
})();
