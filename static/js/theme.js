// Dark mode: follows the system until the toggle picks a theme, which is remembered.
// Loaded in <head> without defer so the page never flashes the wrong theme.
(function () {
  "use strict";
  const KEY = "pagemig-theme";
  const root = document.documentElement;
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try {
      return localStorage.getItem(KEY);
    } catch (e) {
      return null;
    }
  }

  function isDark() {
    const t = root.dataset.theme;
    if (t === "dark") return true;
    if (t === "light") return false;
    return !!(media && media.matches);
  }

  function announce() {
    document.dispatchEvent(new CustomEvent("pagemig:theme", { detail: { dark: isDark() } }));
    const b = document.getElementById("theme-toggle");
    if (b) {
      b.textContent = isDark() ? "Light" : "Dark";
      b.setAttribute("aria-pressed", isDark() ? "true" : "false");
    }
  }

  function set(theme) {
    if (theme === "dark" || theme === "light") root.dataset.theme = theme;
    else delete root.dataset.theme;
    try {
      if (theme) localStorage.setItem(KEY, theme);
      else localStorage.removeItem(KEY);
    } catch (e) {
      /* private mode: the choice lasts for this page only */
    }
    announce();
  }

  function toggle() {
    set(isDark() ? "light" : "dark");
  }

  const t = stored();
  if (t === "dark" || t === "light") root.dataset.theme = t;
  if (media && media.addEventListener) media.addEventListener("change", announce);
  document.addEventListener("DOMContentLoaded", () => {
    const b = document.getElementById("theme-toggle");
    if (b) b.addEventListener("click", toggle);
    announce();
  });

  window.PagemigTheme = { isDark, set, toggle };
})();
