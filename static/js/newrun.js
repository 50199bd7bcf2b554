// New run: a form over the scenario (zones, layout, drivers with outcome rates, buggy
// modes and -EAGAIN injection, the workload timeline, sysctls), or the same scenario as
// TOML/JSON text. The scenario object `model` is the truth; the form edits it in place.
// Errors from the API (400, [{field, message}]) are shown at the field they name.
(function () {
  "use strict";
  const { api, readJsonScript } = window.Pagemig;
  const $ = (id) => document.getElementById(id);
  const choices = readJsonScript("engine-choices") || {};
  const fromRun = readJsonScript("from-run");
  const form = $("new-run");
  const formBox = $("scenario-form");
  let model = emptyScenario();
  let mode = "form";

  const INJECTION_FIELDS = [
    ["probability", "probability %", "number", 0, 100],
    ["errno", "errno", "errno"],
    ["interval", "interval", "int", 1],
    ["times", "times (-1 = ∞)", "int", -1],
    ["space", "space", "int", 0],
    ["start_ms", "from ms", "number", 0],
    ["end_ms", "until ms", "number", 0],
    ["pfn_start", "pfn from", "int", 0],
    ["pfn_end", "pfn to", "int", 0],
  ];
  // Which fields each timeline action takes (simulator/scenario.py).
  const ACTION_FIELDS = {
    alloc: [["count", "int"], ["order", "int"], ["type", "alloc_type"]],
    free: [["count", "int"], ["order", "int"], ["type", "alloc_type"]],
    alloc_high_order: [["order", "int"], ["type", "alloc_type"], ["count", "int"]],
    balloon_inflate: [["driver", "driver"], ["pages", "int"]],
    balloon_deflate: [["driver", "driver"], ["pages", "int"]],
    driver_grow: [["driver", "driver"], ["pages", "int"]],
    sysctl: [["name", "sysctl"], ["value", "int"]],
    inject: [["driver", "driver"]],
    kcompactd_wake: [["order", "int"]],
    compact_memory: [],
  };

  function emptyScenario() {
    return {
      name: "my-scenario",
      description: "",
      profile: "v6.18",
      memory: { zones: [{ name: "Normal", pages: 65536 }] },
      layout: { mode: "generate", free: 0.3, fragmentation: 0.8 },
      drivers: [],
      timeline: [{ at_ms: 0, action: "compact_memory" }],
      sysctl: {},
    };
  }

  // ---- paths: "drivers[0].migrate.EAGAIN" ----
  function parsePath(p) {
    const out = [];
    p.replace(/([^.[\]]+)|\[(\d+)\]/g, (m, name, idx) => {
      out.push(idx !== undefined ? +idx : name);
      return m;
    });
    return out;
  }
  function getPath(obj, p) {
    let o = obj;
    for (const k of parsePath(p)) {
      if (o === null || o === undefined) return undefined;
      o = o[k];
    }
    return o;
  }
  function setPath(obj, p, v) {
    const parts = parsePath(p);
    let o = obj;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = parts[i];
      if (o[k] === null || o[k] === undefined) o[k] = typeof parts[i + 1] === "number" ? [] : {};
      o = o[k];
    }
    const last = parts[parts.length - 1];
    if (v === undefined) delete o[last];
    else o[last] = v;
  }

  // ---- small DOM helpers ----
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
    return e;
  }

  let uid = 0;
  // An input bound to a scenario path. kind: number | int | text | select options list.
  function input(path, kind, opts) {
    opts = opts || {};
    const id = "f" + ++uid;
    const cur = getPath(model, path);
    let inp;
    if (Array.isArray(kind)) {
      inp = el("select", { id });
      if (opts.blank !== false) inp.appendChild(el("option", { value: "", text: opts.blankLabel || "–" }));
      for (const o of kind) inp.appendChild(el("option", { value: o, text: o }));
      // Unset in the scenario: show the engine's default (the first choice) when there is
      // no blank choice; the model keeps it unset until the user picks.
      inp.value = cur === null || cur === undefined ? (opts.blank === false ? String(kind[0] || "") : "") : String(cur);
    } else if (kind === "bool") {
      inp = el("input", { id, type: "checkbox" });
      inp.checked = cur === undefined ? !!opts.default : !!cur;
    } else {
      inp = el("input", { id, type: kind === "text" ? "text" : "number", step: kind === "int" ? "1" : "any", min: opts.min, max: opts.max, placeholder: opts.placeholder });
      inp.value = cur === null || cur === undefined ? "" : String(cur);
      if (opts.size) inp.size = opts.size;
    }
    inp.dataset.path = path;
    inp.addEventListener(kind === "text" || kind === "number" || kind === "int" ? "input" : "change", () => {
      let v;
      if (kind === "bool") v = inp.checked;
      else if (inp.value === "") v = undefined;
      else if (kind === "number") v = parseFloat(inp.value);
      else if (kind === "int") v = Number.isInteger(+inp.value) ? parseInt(inp.value, 10) : parseFloat(inp.value);
      else v = inp.value;
      setPath(model, path, v);
      if (opts.rerender) render();
      clearFieldError(inp);
      updateTotal();
    });
    const label = opts.label === undefined ? path.split(".").pop() : opts.label;
    // In tables the column header names the field; the label stays for screen readers.
    const wrap = el("div", { "data-field": path }, el("label", { for: id, text: label || path.split(".").pop(), class: label ? null : "sr-only" }), inp);
    return wrap;
  }

  // ---- the form ----
  function render() {
    uid = 0;
    formBox.textContent = "";
    formBox.appendChild(section("Scenario", [row([input("name", "text", { label: "name", size: 24 }), input("description", "text", { label: "description", size: 60 })])]));
    formBox.appendChild(memorySection());
    formBox.appendChild(layoutSection());
    formBox.appendChild(driversSection());
    formBox.appendChild(timelineSection());
    formBox.appendChild(
      section("Kernel knobs", [
        row([
          input("sysctl.compaction_proactiveness", "int", { label: "compaction_proactiveness", min: 0, max: 100 }),
          input("sysctl.extfrag_threshold", "int", { label: "extfrag_threshold", min: 0, max: 1000 }),
          input("sysctl.compact_unevictable_allowed", "int", { label: "compact_unevictable_allowed", min: 0, max: 1 }),
          input("lru_eagain_rate", "number", { label: "LRU -EAGAIN rate", min: 0, max: 1 }),
          input("kcompactd", "bool", { label: "kcompactd", default: true }),
        ]),
      ])
    );
    updateTotal();
  }

  function section(title, kids) {
    return el("section", { class: "mt" }, el("h2", { text: title }), ...kids);
  }
  function row(kids) {
    return el("div", { class: "form-row" }, ...kids);
  }

  function memorySection() {
    const zones = getPath(model, "memory.zones") || [];
    const rows = zones.map((z, i) =>
      row([
        input(`memory.zones[${i}].name`, choices.zone_names || ["Normal"], { label: "zone", blank: false }),
        input(`memory.zones[${i}].pages`, "int", { label: "pages (4 KiB; multiple of 512)", min: 1024, placeholder: "65536" }),
        el("div", {}, el("label", { text: "size" }), el("span", { class: "muted", text: z.pages ? (z.pages / 256).toLocaleString("en-US") + " MiB" : "" })),
        zones.length > 1 ? el("button", { type: "button", text: "remove zone", onclick: () => (zones.splice(i, 1), render()) }) : null,
      ])
    );
    const add = el("button", {
      type: "button",
      id: "add-zone",
      text: "add zone",
      onclick: () => {
        zones.push({ name: (choices.zone_names || ["Normal"]).find((n) => !zones.some((z) => z.name === n)) || "Normal", pages: 65536 });
        render();
      },
    });
    return section("Memory", rows.concat([add, el("span", { class: "muted", text: " a pageblock is 512 pages (2 MiB)" })]));
  }

  function layoutSection() {
    const mode = getPath(model, "layout.mode") || "generate";
    const kids = [row([input("layout.mode", ["generate", "explicit"], { label: "mode", blank: false, rerender: true })])];
    if (mode === "generate") {
      kids.push(
        row([
          input("layout.free", "number", { label: "free fraction", min: 0, max: 0.95 }),
          input("layout.fragmentation", "number", { label: "fragmentation", min: 0, max: 1 }),
          input("layout.mix.anon", "number", { label: "mix: anon", min: 0, max: 1 }),
          input("layout.mix.file", "number", { label: "file", min: 0, max: 1 }),
          input("layout.mix.unmovable", "number", { label: "unmovable", min: 0, max: 1 }),
          input("layout.mix.reclaimable", "number", { label: "reclaimable", min: 0, max: 1 }),
          input("layout.mix.pinned", "number", { label: "pinned", min: 0, max: 1 }),
        ])
      );
    } else {
      kids.push(el("p", { class: "muted", text: "Explicit ranges are edited in the TOML/JSON tab (" + (getPath(model, "layout.ranges") || []).length + " ranges)." }));
    }
    kids.push(
      row([
        input("layout.locked", "number", { label: "locked", min: 0, max: 1 }),
        input("layout.writeback", "number", { label: "writeback", min: 0, max: 1 }),
        input("layout.dirty", "number", { label: "dirty", min: 0, max: 1 }),
        input("layout.unevictable", "number", { label: "unevictable", min: 0, max: 1 }),
      ])
    );
    return section("Initial memory layout", kids);
  }

  function driversSection() {
    const drivers = model.drivers || (model.drivers = []);
    const errnos = choices.errnos || ["EAGAIN", "EBUSY", "EINVAL", "ENOMEM"];
    const presetNames = Object.keys(choices.driver_presets || {});
    const table = el("table", { class: "drivers", id: "drivers-table" });
    table.appendChild(
      el("tr", {}, ...["name", "preset", "pages", "placement", "range", "isolate refuse"].concat(errnos.map((e) => "-" + e + " rate")).concat(["buggy modes", ""]).map((h) => el("th", { text: h })))
    );
    drivers.forEach((d, i) => {
      const p = `drivers[${i}]`;
      const cells = [
        input(p + ".name", "text", { label: "", size: 10 }),
        input(p + ".preset", presetNames, { label: "", blankLabel: "custom" }),
        input(p + ".pages", "int", { label: "", min: 0 }),
        input(p + ".placement", ["scattered", "clustered", "range"], { label: "", blank: false, rerender: true }),
        d.placement === "range" ? row([input(p + ".range[0]", "int", { label: "from" }), input(p + ".range[1]", "int", { label: "to" })]) : el("span", { class: "muted", text: "–" }),
        input(p + ".isolate_refuse_rate", "number", { label: "", min: 0, max: 1 }),
      ].concat(errnos.map((e) => input(`${p}.migrate.${e}`, "number", { label: "", min: 0, max: 1 })));
      const bug = el("div", { "data-field": p + ".buggy" });
      for (const m of choices.buggy_modes || []) {
        const cb = el("input", { type: "checkbox", id: `bug-${i}-${m}`, title: (choices.buggy_rules || {})[m] || m });
        cb.checked = (d.buggy || []).includes(m);
        cb.addEventListener("change", () => {
          const set = new Set(d.buggy || []);
          if (cb.checked) set.add(m);
          else set.delete(m);
          d.buggy = [...set];
        });
        bug.appendChild(el("label", { for: cb.id, class: "bug", title: cb.title }, cb, " " + m));
      }
      cells.push(bug);
      cells.push(
        el(
          "div",
          {},
          el("button", { type: "button", text: d.injection ? "edit injection" : "add injection", onclick: () => ((d.injection = d.injection || { probability: 10, errno: "EAGAIN" }), render()) }),
          el("button", { type: "button", text: "remove", onclick: () => (drivers.splice(i, 1), render()) })
        )
      );
      const tr = el("tr", { "data-driver": i });
      for (const c of cells) {
        const td = el("td", {}, c);
        tr.appendChild(td);
      }
      table.appendChild(tr);
      if (d.injection) {
        const inj = d.injection;
        const fields = INJECTION_FIELDS.map(([k, label, kind, min, max]) =>
          input(`${p}.injection.${k}`, kind === "errno" ? errnos : kind, { label, min, max, blank: kind !== "errno" })
        );
        fields.push(el("button", { type: "button", text: "no injection", onclick: () => ((d.injection = null), render()) }));
        table.appendChild(el("tr", { class: "injection" }, el("td", { colspan: String(8 + errnos.length), "data-field": p + ".injection" }, el("strong", { text: "-" + (inj.errno || "EAGAIN") + " injection for " + (d.name || "driver " + i) + " " }), row(fields))));
      }
    });
    const addSel = el("select", { id: "add-driver-preset" }, el("option", { value: "", text: "custom driver" }), ...presetNames.map((n) => el("option", { value: n, text: n + " (" + (choices.driver_presets[n].join(", ") || "no profile") + ")" })));
    const add = el("button", {
      type: "button",
      id: "add-driver",
      text: "add driver",
      onclick: () => {
        const preset = addSel.value || null;
        let name = preset || "driver" + drivers.length;
        while (drivers.some((d) => d.name === name)) name += "_";
        drivers.push(preset ? { name, preset, pages: 1024, placement: "scattered" } : { name, pages: 1024, placement: "scattered", migrate: { EAGAIN: 0.05 }, buggy: [] });
        render();
      },
    });
    return section("Drivers (non-LRU movable pages)", [el("div", { class: "scroll-x" }, table), row([addSel, add])]);
  }

  function timelineSection() {
    const tl = model.timeline || (model.timeline = []);
    const names = (model.drivers || []).map((d) => d.name).filter(Boolean);
    const table = el("table", { id: "timeline-table" }, el("tr", {}, el("th", { text: "at ms" }), el("th", { text: "action" }), el("th", { text: "parameters" }), el("th")));
    tl.forEach((ev, i) => {
      const p = `timeline[${i}]`;
      const params = (ACTION_FIELDS[ev.action] || []).map(([k, kind]) => {
        if (kind === "driver") return input(`${p}.${k}`, names, { label: k, blank: false });
        if (kind === "alloc_type") return input(`${p}.${k}`, choices.alloc_types || ["movable"], { label: k, blank: false });
        if (kind === "sysctl") return input(`${p}.${k}`, (choices.sysctls || []).concat(["compact_memory"]), { label: k, blank: false });
        return input(`${p}.${k}`, kind, { label: k, min: 0 });
      });
      if (ev.action === "inject") {
        ev.injection = ev.injection || { probability: 100, errno: "EAGAIN" };
        for (const [k, label, kind, min, max] of INJECTION_FIELDS) {
          params.push(input(`${p}.injection.${k}`, kind === "errno" ? choices.errnos || ["EAGAIN"] : kind, { label, min, max, blank: kind !== "errno" }));
        }
      }
      table.appendChild(
        el(
          "tr",
          {},
          el("td", {}, input(`${p}.at_ms`, "number", { label: "", min: 0 })),
          el("td", {}, input(`${p}.action`, choices.actions && choices.actions.length ? choices.actions : Object.keys(ACTION_FIELDS), { label: "", blank: false, rerender: true })),
          el("td", {}, row(params)),
          el("td", {}, el("button", { type: "button", text: "remove", onclick: () => (tl.splice(i, 1), render()) }))
        )
      );
    });
    const add = el("button", {
      type: "button",
      id: "add-event",
      text: "add event",
      onclick: () => {
        const last = tl.length ? tl[tl.length - 1].at_ms || 0 : 0;
        tl.push({ at_ms: last + 10, action: "alloc_high_order", order: 9, count: 1, type: "movable" });
        render();
      },
    });
    return section("Workload timeline", [table, add]);
  }

  function updateTotal() {
    const zones = getPath(model, "memory.zones") || [];
    const total = zones.reduce((a, z) => a + (+z.pages || 0), 0);
    $("total-pages").textContent = total ? total.toLocaleString("en-US") + " pages (" + (total / 256).toLocaleString("en-US") + " MiB)" : "";
  }

  // ---- errors at their fields ----
  function clearErrors() {
    for (const e of document.querySelectorAll(".field-error")) e.remove();
    for (const e of document.querySelectorAll(".has-error")) e.classList.remove("has-error");
    $("form-errors").textContent = "";
    $("editor-errors").textContent = "";
  }
  function clearFieldError(inp) {
    const wrap = inp.closest("[data-field]");
    if (!wrap) return;
    wrap.classList.remove("has-error");
    const m = wrap.querySelector(":scope > .field-error");
    if (m) m.remove();
  }
  function findField(field) {
    // Run fields (seed, profile, title, fps) and scenario.<path>; fall back to the
    // nearest enclosing path that has a field on the page.
    const path = field.replace(/^scenario\./, "");
    const candidates = [field, path];
    let p = path;
    while (p.includes(".") || p.includes("[")) {
      p = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      candidates.push(p);
    }
    for (const c of candidates) {
      const e = document.querySelector(`[data-field="${CSS.escape(c)}"]`);
      if (e && e.offsetParent !== null) return e;
    }
    return null;
  }
  function showErrors(errors) {
    clearErrors();
    const unplaced = [];
    let first = null;
    for (const e of errors) {
      const field = e.field || "";
      if (mode !== "form" && field && !/^(seed|profile|title|fps)$/.test(field)) {
        unplaced.push(e);
        continue;
      }
      const at = field ? findField(field) : null;
      if (!at) {
        unplaced.push(e);
        continue;
      }
      at.classList.add("has-error");
      at.appendChild(el("div", { class: "field-error", "data-error-for": field, text: e.message }));
      first = first || at;
    }
    if (mode !== "form") showEditorErrors(unplaced);
    else if (unplaced.length) $("form-errors").textContent = unplaced.map((e) => (e.field ? e.field + ": " : "") + e.message).join("; ");
    if (first) first.scrollIntoView({ block: "center" });
  }

  // In the text editor an error names a field; find the line that sets it.
  function lineOf(text, field) {
    const parts = parsePath(field.replace(/^scenario\./, ""));
    const lines = text.split("\n");
    let from = 0;
    // Walk array indices: the n-th "[[name]]" (TOML) or the n-th element in JSON is
    // hard to find by text; use the n-th occurrence of the key that holds the array.
    for (let i = 0; i < parts.length; i++) {
      const k = parts[i];
      if (typeof k === "number") continue;
      const next = parts[i + 1];
      const n = typeof next === "number" ? next : 0;
      const re = mode === "toml" ? new RegExp("^\\s*(\\[\\[?[^\\]]*\\b" + k + "\\]\\]?|" + k + "\\s*=|\"" + k + "\"\\s*=)") : new RegExp('"' + k + '"\\s*:');
      let seen = -1;
      for (let l = from; l < lines.length; l++) {
        if (re.test(lines[l])) {
          seen++;
          if (seen === n || typeof next !== "number") {
            from = l;
            break;
          }
        }
      }
    }
    return from;
  }
  function showEditorErrors(errors) {
    const box = $("editor-errors");
    box.textContent = "";
    const text = $("scenario-text").value;
    for (const e of errors) {
      let line = null;
      const m = /line (\d+)/i.exec(e.message);
      if (m) line = +m[1] - 1;
      else if (e.field && !/^(toml|json)$/.test(e.field)) line = lineOf(text, e.field);
      const d = el("div", { class: "line-error field-error", "data-error-for": e.field || "" });
      d.textContent = (line !== null ? "line " + (line + 1) + ": " : "") + (e.field ? e.field + ": " : "") + e.message;
      if (line !== null) {
        d.classList.add("clickable");
        d.addEventListener("click", () => selectLine(line));
      }
      box.appendChild(d);
    }
    $("scenario-editor").classList.toggle("has-error", errors.length > 0);
  }
  function selectLine(n) {
    const ta = $("scenario-text");
    const lines = ta.value.split("\n");
    let start = 0;
    for (let i = 0; i < n && i < lines.length; i++) start += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(start, start + (lines[n] || "").length);
  }

  // ---- modes ----
  async function textToModel() {
    const r = await api(form.dataset.check, "POST", { format: mode, text: $("scenario-text").value });
    if (!r.ok) {
      showErrors((r.data && r.data.errors) || [{ field: null, message: "HTTP " + r.status }]);
      return false;
    }
    model = r.data.scenario;
    return true;
  }
  async function setMode(next) {
    if (next === mode) return;
    clearErrors();
    if (mode !== "form" && !(await textToModel())) return;
    mode = next;
    for (const b of document.querySelectorAll("#mode-tabs button")) b.setAttribute("aria-selected", b.dataset.mode === mode ? "true" : "false");
    $("scenario-form").hidden = mode !== "form";
    $("scenario-editor").hidden = mode === "form";
    if (mode === "form") render();
    else $("scenario-text").value = mode === "toml" ? window.PagemigToml.stringify(model) : JSON.stringify(model, null, 2);
  }
  for (const b of document.querySelectorAll("#mode-tabs button")) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("check-text").addEventListener("click", async () => {
    clearErrors();
    if (await textToModel()) {
      $("editor-errors").appendChild(el("div", { class: "muted", text: "The engine accepts this scenario." }));
    }
  });

  // ---- presets and prefill ----
  const presetSel = $("preset");
  for (const name of Object.keys(choices.presets || {}).sort()) presetSel.appendChild(el("option", { value: name, text: name }));
  presetSel.addEventListener("change", () => {
    model = presetSel.value ? JSON.parse(JSON.stringify(choices.presets[presetSel.value])) : emptyScenario();
    if (!$("f-title").value || $("f-title").dataset.auto) {
      $("f-title").value = presetSel.value;
      $("f-title").dataset.auto = "1";
    }
    if (model.profile) $("f-profile").value = model.profile;
    showModel();
  });
  function showModel() {
    clearErrors();
    if (mode === "form") render();
    else $("scenario-text").value = mode === "toml" ? window.PagemigToml.stringify(model) : JSON.stringify(model, null, 2);
  }
  for (const p of choices.profiles || ["v4.8", "v6.18"]) $("f-profile").appendChild(el("option", { value: p, text: p }));
  $("f-profile").value = "v6.18";
  $("f-profile").addEventListener("change", () => {
    model.profile = $("f-profile").value;
    if (mode === "form") render();
  });
  $("f-title").addEventListener("input", () => delete $("f-title").dataset.auto);

  const q = new URLSearchParams(location.search);
  if (fromRun) {
    model = fromRun.scenario;
    $("f-seed").value = fromRun.seed;
    $("f-profile").value = fromRun.profile;
    $("f-title").value = fromRun.title ? fromRun.title + " (edited)" : "";
  } else if (q.get("preset") && choices.presets && choices.presets[q.get("preset")]) {
    presetSel.value = q.get("preset");
    presetSel.dispatchEvent(new Event("change"));
  }
  render();

  // ---- submit ----
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    if (mode !== "form" && !(await textToModel())) return;
    const seed = $("f-seed").value === "" ? 1 : Number($("f-seed").value);
    const fps = $("f-fps").value === "" ? 30 : Number($("f-fps").value);
    model.profile = $("f-profile").value;
    const body = { scenario: model, seed, profile: $("f-profile").value, title: $("f-title").value, fps };
    $("create-run").disabled = true;
    const r = await api(form.dataset.api, "POST", body);
    $("create-run").disabled = false;
    if (r.ok) {
      window.location = r.data.url;
      return;
    }
    showErrors((r.data && r.data.errors) || [{ field: null, message: "HTTP " + r.status }]);
    window.pagemigFormErrors = ((r.data && r.data.errors) || []).length;
  });
})();
