// Home: start a run from a preset in one click; pick runs to compare.
(function () {
  "use strict";
  const { api } = window.Pagemig;
  const errors = document.getElementById("start-errors");

  async function start(body, button) {
    if (button) button.disabled = true;
    errors.textContent = "";
    const r = await api(document.getElementById("start-run").dataset.api, "POST", body);
    if (r.ok) {
      window.location = r.data.url;
      return;
    }
    if (button) button.disabled = false;
    errors.textContent = ((r.data && r.data.errors) || [{ message: "HTTP " + r.status }])
      .map((e) => (e.field ? e.field + ": " : "") + e.message)
      .join("; ");
  }

  for (const form of document.querySelectorAll("form.start-preset")) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const profile = document.getElementById("start-profile");
      start({ preset: form.dataset.preset, seed: 1, profile: profile ? profile.value : "v6.18" }, form.querySelector("button"));
    });
  }

  const form = document.getElementById("start-run");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      start(
        { preset: form.elements.preset.value, seed: parseInt(form.elements.seed.value, 10), profile: form.elements.profile.value },
        document.getElementById("start-button")
      );
    });
  }

  // /?start=NAME (after the one-click local sign-in): start that preset now.
  const auto = new URLSearchParams(location.search).get("start");
  if (auto && form) {
    history.replaceState(null, "", location.pathname);
    start({ preset: auto, seed: 1, profile: "v6.18" }, null);
  }

  const cmp = document.getElementById("compare-form");
  if (cmp) {
    cmp.addEventListener("submit", (ev) => {
      const codes = [...cmp.querySelectorAll("input.cmp:checked")].map((c) => c.value);
      if (codes.length < 2 || codes.length > 4) {
        ev.preventDefault();
        window.Pagemig.toast("Pick two to four runs to compare");
        return;
      }
      document.getElementById("compare-runs").value = codes.join(",");
      for (const c of cmp.querySelectorAll("input.cmp")) c.disabled = true;
    });
  }
})();
