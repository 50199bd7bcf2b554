// The run page (and share links, read-only): heatmap, hover details, charts, /proc
// views, trace log, controls, -EAGAIN injection, scrubber, share and export.
//
// Page flags for tests: window.wsConnected, window.pagemigFrames, window.pagemigSeq,
// window.pagemigStatus, window.pagemigRun (this controller), window.pagemig (the
// minimal page's flags, kept for the site's own tests).
(function () {
  "use strict";
  const root = document.getElementById("run-view");
  if (!root) return;
  const { api, toast, fmtInt, readJsonScript, download } = window.Pagemig;
  const ds = root.dataset;
  const $ = (id) => document.getElementById(id);

  const scenario = readJsonScript("run-scenario") || {};
  const shareState = readJsonScript("view-state") || {};
  const urlState = parseHash();
  const initial = Object.assign({}, shareState, urlState);
  // The site's own pages call the replay position "position".
  if (typeof initial.seq !== "number" && typeof initial.position === "number") initial.seq = initial.position;
  const shareToken = ds.shareToken || "";
  const readOnly = !!ds.readOnly;

  // Zones in pfn order, as the engine lays them out (memory.zones, consecutive).
  const zones = [];
  {
    let start = 0;
    for (const z of (scenario.memory && scenario.memory.zones) || []) {
      zones.push({ name: z.name, start_pfn: start, end_pfn: start + z.pages });
      start += z.pages;
    }
  }
  const drivers = (scenario.drivers || []).map((d) => d.name);

  const cfg = {
    run: ds.run,
    ws: ds.ws,
    status: ds.status,
    last_seq: parseInt(ds.lastSeq, 10),
    fps: parseFloat(ds.fps),
    can_control: !!ds.canControl,
    zones,
    drivers,
    api: { metrics: ds.apiMetrics },
  };

  // Share-link viewers are anonymous: the API accepts the link's token in a header.
  function apiGet(url) {
    const headers = { Accept: "application/json" };
    if (shareToken) headers["X-Share-Token"] = shareToken;
    return fetch(url, { headers, credentials: "same-origin" });
  }
  cfg.getJson = async (url) => {
    const r = await apiGet(url);
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  };

  const view = new window.PagemigRunView.RunView(cfg, { heatmap: $("heatmap"), legend: $("legend"), charts: $("charts") }, { view: initial });
  const hm = view.heatmap;
  window.pagemigRun = view;
  window.pagemig = { frames: 0, connected: false, lastSeq: null, status: cfg.status };
  $("layout").value = hm.layoutKind;

  // ---- status, connection, position ----
  function setStatus(s) {
    if (!s) return;
    const b = $("run-status");
    b.textContent = s;
    b.dataset.status = s;
    document.body.dataset.runStatus = s;
    window.pagemigStatus = s;
    window.pagemig.status = s;
    updateControls();
  }
  setStatus(cfg.status);

  view.on("conn", (s) => {
    const labels = { connecting: "connecting…", live: "connected", reconnecting: "reconnecting…", closed: "closed", refused: "refused" };
    $("conn").textContent = labels[s] || s;
    window.pagemig.connected = s === "live";
  });
  view.on("status", (m) => {
    setStatus(m.status);
    if (m.type === "hello") updateControls();
    refreshScrubber();
  });
  view.on("error", (m) => {
    // Name the field unless the message already does ("fps must be between ...").
    const field = m.field && !String(m.message).includes(m.field.split(".").pop()) ? m.field + ": " : "";
    $("control-error").textContent = (m.op ? m.op + ": " : "") + field + m.message;
    $("control-error").dataset.field = m.field || "";
  });
  view.on("ok", (m) => {
    $("control-error").textContent = "";
    window.pagemigLastOk = m;
  });
  view.on("injection", (m) => {
    addTrace({ event: "injection", seq: m.seq, text: m.driver + " " + JSON.stringify(m.params) });
  });

  function updateControls() {
    const st = view.status;
    const live = ["running", "paused", "queued"].includes(st);
    const can = view.canControl && !readOnly;
    const set = (id, on) => {
      const el = $(id);
      if (el) el.disabled = !on;
    };
    set("ctl-pause", can && st === "running");
    set("ctl-resume", can && st === "paused");
    set("ctl-step", can && st === "paused");
    set("ctl-cancel", can && live);
    set("ctl-speed", can && live);
    set("ctl-ticks", can && live);
    set("inject-now", can && live && drivers.length > 0);
    set("go-live", live);
  }

  // ---- frames ----
  let lastRenderSeq = -1;
  let detailsAt = 0;
  view.on("frame", (pos) => {
    window.pagemig.frames = window.pagemigFrames;
    $("frame-count").textContent = window.pagemigFrames;
    window.pagemig.lastSeq = pos.seq;
    if (pos.seq !== lastRenderSeq) {
      lastRenderSeq = pos.seq;
      refreshScrubber();
      // A selected page's details follow the run, at most once a second.
      const now = performance.now();
      if (selectedPfn !== null && hm.hoverCell < 0 && now - detailsAt > 1000) {
        detailsAt = now;
        showPage(selectedPfn, false);
      }
    }
    recorder.frame();
  });
  view.on("position", refreshScrubber);

  // ---- scrubber ----
  const scrub = $("scrubber");
  let scrubbing = false;
  function refreshScrubber() {
    const pos = view.position();
    const max = Math.max(0, view.lastSeq);
    scrub.max = String(max);
    if (!scrubbing) scrub.value = String(Math.max(0, pos.target !== null ? pos.target : pos.seq));
    const where = pos.live ? "live" : pos.target !== null ? "held" : view.live ? "replay" : "replay";
    $("position").textContent =
      "frame " + fmtInt(Math.max(0, pos.seq)) + " / " + fmtInt(max) + " · " + window.PagemigCharts.fmtMs(pos.timeNs / 1e6) + " · " + where;
    document.body.dataset.position = where;
    if (view.charts) view.charts.setMarker(pos.live ? null : pos.timeNs);
  }
  scrub.addEventListener("input", () => {
    scrubbing = true;
  });
  scrub.addEventListener("change", () => {
    scrubbing = false;
    const v = parseInt(scrub.value, 10);
    if (view.live && v >= view.lastSeq) view.goLive();
    else view.seek(v);
    saveHash();
  });
  $("go-live").addEventListener("click", () => view.goLive());
  $("play").addEventListener("click", () => view.play());
  if (view.charts) view.on("pick", (p) => p.seq !== undefined && view.seek(p.seq));

  // ---- heatmap view: layout, zoom, hover and click ----
  $("layout").addEventListener("change", (ev) => {
    hm.setLayout(ev.target.value);
    hm.draw();
    saveHash();
  });
  $("zoom-in").addEventListener("click", () => zoom(1.6));
  $("zoom-out").addEventListener("click", () => zoom(1 / 1.6));
  $("zoom-fit").addEventListener("click", () => {
    hm.fit();
    hm.draw();
  });
  function zoom(f) {
    hm.zoomBy(f);
    hm.draw();
  }
  $("goto-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const pfn = parseInt($("goto-pfn").value, 10);
    if (!isNaN(pfn)) {
      hm.focusPfn(pfn, 24);
      hm.selectedCell = Math.floor(pfn / hm.pagesPerCell);
      hm.overlayDirty = true;
      hm.draw();
      showPage(pfn, true);
    }
  });
  let hashTimer = null;
  hm.onViewChange = (v) => {
    $("zoom-label").textContent = v.scale >= 1 ? v.scale.toFixed(1) + " px/cell" : "1:" + (1 / v.scale).toFixed(1);
    // The address keeps the view once the user changed it (fitting to the box is not a
    // choice worth a history entry).
    if (!hm.fitted || location.hash) {
      clearTimeout(hashTimer);
      hashTimer = setTimeout(saveHash, 400);
    }
    maybeTile();
  };
  let selectedPfn = null;
  let hoverTimer = null;
  hm.bindPointer(
    (info) => {
      clearTimeout(hoverTimer);
      if (!info) return;
      // Show the state at once; ask the engine after the pointer rests a moment.
      showPageState(info);
      hoverTimer = setTimeout(() => showPage(info.pfn, false), 120);
    },
    (info) => {
      selectedPfn = info ? info.pfn : null;
      if (info) showPage(info.pfn, true);
      hm.draw();
    }
  );

  // Aggregated grids: when zoomed in, fetch full-resolution tiles of the pages on screen
  // (refreshed every second while live, since a tile is a snapshot).
  let tileTimer = null;
  // The pages on screen as at most four tile requests of 32768 pages (the server's cap).
  function tileRanges() {
    const a = hm.cellAtScreen(0, 0) || hm.cellAtScreen(hm.vw / 2, hm.vh / 2);
    const b = hm.cellAtScreen(hm.vw - 1, hm.vh - 1) || hm.cellAtScreen(hm.vw / 2, hm.vh / 2);
    const c = hm.cellAtScreen(hm.vw / 2, hm.vh / 2);
    if (!a || !b || !c) return [];
    const MAX = 32768;
    let start = Math.min(a.pfn, b.pfn);
    let end = Math.max(a.pfn, b.pfn) + hm.pagesPerCell;
    if (hm.layoutKind !== "linear" || end - start > 4 * MAX) {
      start = Math.max(0, c.pfn - 2 * MAX);
      end = start + 4 * MAX;
    }
    const out = [];
    for (let p = start; p < end; p += MAX) out.push({ pfn: p, count: Math.min(MAX, end - p) });
    return out;
  }
  function maybeTile() {
    clearTimeout(tileTimer);
    if (hm.pagesPerCell <= 1) return;
    if (hm.scale < 8) {
      if (hm.tiles.size) {
        hm.tiles.clear();
        hm.overlayDirty = true;
        hm.requestDraw();
      }
      return;
    }
    if (!view.live || !view.position().live) return;
    tileTimer = setTimeout(() => {
      for (const r of tileRanges()) view.send({ op: "tile", pfn: r.pfn, count: r.count });
      maybeTile();
    }, hm.tiles.size ? 1000 : 150);
  }

  // The engine's state is asked for at the frame on screen: live, its newest frame (no
  // seq, answered by the running engine); otherwise the frame being shown.
  function atSeq() {
    const pos = view.position();
    if (pos.live || pos.seq < 0) return "";
    return "?seq=" + pos.seq;
  }

  // ---- page details ----
  const STATES = window.PagemigHeatmap.STATES;
  function zoneOf(pfn) {
    const z = zones.find((z) => pfn >= z.start_pfn && pfn < z.end_pfn);
    return z ? z.name : "–";
  }
  function showPageState(info) {
    $("page-hint").hidden = true;
    const body = $("page-body");
    const st = STATES[info.state];
    body.dataset.pfn = info.pfn;
    body.dataset.source = "grid";
    body.textContent = "";
    body.appendChild(
      dl([
        ["pfn", info.pages > 1 ? info.pfn + "–" + (info.pfn + info.pages - 1) : String(info.pfn)],
        ["zone", zoneOf(info.pfn)],
        ["pageblock", String(Math.floor(info.pfn / 512))],
        ["state", st ? st.name : String(info.state)],
      ])
    );
  }
  let pageReq = 0;
  async function showPage(pfn, explicit) {
    const id = ++pageReq;
    const url = ds.apiPage.replace(/\/0$/, "/" + pfn) + atSeq();
    let data;
    try {
      const r = await apiGet(url);
      data = await r.json();
      if (!r.ok) throw new Error(data.error || "HTTP " + r.status);
    } catch (e) {
      if (id === pageReq && explicit) $("page-hint").textContent = "Details unavailable: " + e.message;
      return;
    }
    if (id !== pageReq) return;
    renderPage(data.page || data, data.seq);
  }
  function renderPage(p, seq) {
    $("page-hint").hidden = true;
    const body = $("page-body");
    body.textContent = "";
    body.dataset.pfn = p.pfn;
    body.dataset.source = "engine";
    const flags = document.createElement("span");
    flags.className = "flags";
    for (const f of p.flags || []) {
      const s = document.createElement("span");
      s.textContent = f;
      flags.appendChild(s);
    }
    const rows = [
      ["pfn", String(p.pfn)],
      ["zone", p.zone],
      ["pageblock", p.pageblock + (p.migratetype ? " (" + p.migratetype + ")" : "")],
      ["kind", p.kind],
      ["flags", flags],
      ["owner", p.owner || "–"],
    ];
    if (p.token !== undefined && p.token !== null) rows.push(["token", String(p.token)]);
    if (seq !== undefined) rows.push(["at frame", String(seq)]);
    body.appendChild(dl(rows));
    const hist = p.history || [];
    const h = document.createElement("h3");
    h.textContent = "History (" + hist.length + ")";
    body.appendChild(h);
    const list = document.createElement("div");
    list.className = "history mono";
    for (const e of hist.slice(-100)) {
      const d = document.createElement("div");
      d.textContent = typeof e === "string" ? e : historyLine(e);
      list.appendChild(d);
    }
    if (!hist.length) list.textContent = "no migrations, -EAGAINs, retries or putbacks yet";
    body.appendChild(list);
  }
  function historyLine(e) {
    const t = e.time_ns !== undefined ? window.PagemigCharts.fmtMs(e.time_ns / 1e6) + " " : "";
    const what = e.event || e.what || e.kind || "";
    const rest = Object.entries(e)
      .filter(([k]) => !["time_ns", "event", "what", "kind"].includes(k))
      .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v))
      .join(" ");
    return t + what + (rest ? " " + rest : "");
  }
  function dl(rows) {
    const d = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.dataset.field = k;
      if (v instanceof Node) dd.appendChild(v);
      else dd.textContent = v === undefined || v === null ? "–" : v;
      d.appendChild(dt);
      d.appendChild(dd);
    }
    return d;
  }

  // ---- metrics: -EAGAIN table, violations ----
  view.on("metrics", ({ metrics }) => fillEagain(metrics));
  fillEagain(null);
  function fillEagain(metrics) {
    const t = $("eagain-table");
    const eagain = (metrics && metrics.eagain) || {};
    const names = [...new Set(drivers.concat(Object.keys(eagain)))];
    while (t.rows.length > 1) t.deleteRow(1);
    for (const n of names) {
      const r = t.insertRow();
      r.dataset.driver = n;
      r.insertCell().textContent = n;
      const c = r.insertCell();
      c.className = "num";
      c.textContent = metrics ? fmtInt(eagain[n] || 0) : "–";
    }
    if (metrics && metrics.violations) $("violations").hidden = false;
  }

  // ---- controls ----
  function send(op) {
    $("control-error").textContent = "";
    if (!view.send(op)) toast("Not connected; the page reconnects by itself");
  }
  if ($("controls")) {
    $("ctl-pause").addEventListener("click", () => send({ op: "pause" }));
    $("ctl-resume").addEventListener("click", () => send({ op: "resume" }));
    $("ctl-step").addEventListener("click", () => send({ op: "step" }));
    $("ctl-cancel").addEventListener("click", () => {
      if (confirm("Cancel this run? It stops for good.")) send({ op: "cancel" });
    });
    $("ctl-speed").addEventListener("change", (ev) => send({ op: "speed", fps: parseFloat(ev.target.value) }));
    $("ctl-ticks").addEventListener("change", (ev) => send({ op: "speed", ticks_per_frame: parseInt(ev.target.value, 10) }));
    const sel = $("inject-driver");
    for (const n of drivers) {
      const o = document.createElement("option");
      o.textContent = n;
      sel.appendChild(o);
    }
    if (!drivers.length) {
      const o = document.createElement("option");
      o.textContent = "(no drivers)";
      sel.appendChild(o);
    }
    $("inject-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = ev.target.elements;
      // The engine's window is in simulated milliseconds; "now" is the frame on screen.
      const now = view.client.decoder.timeNs / 1e6;
      const dur = parseFloat(f.duration.value);
      const params = { probability: parseFloat(f.probability.value), errno: f.errno.value, interval: 1, times: -1, start_ms: now };
      if (dur > 0) params.end_ms = now + dur;
      send({ op: "inject", driver: f.driver.value, params });
    });
  }

  // ---- keyboard ----
  const K = window.PagemigKeys;
  K.add("space", "Pause / resume", () => {
    if (view.status === "running") send({ op: "pause" });
    else if (view.status === "paused") send({ op: "resume" });
    else view.play();
  });
  K.add("ArrowRight", "Step (paused) / next frame (replay)", () => {
    if (view.status === "paused" && view.position().live) send({ op: "step" });
    else view.seek(Math.max(0, view.client.decoder.seq) + 1);
  });
  K.add("ArrowLeft", "Previous frame", () => view.seek(Math.max(0, view.client.decoder.seq - 1)));
  K.add("ArrowUp", "Zoom in", () => zoom(1.6));
  K.add("ArrowDown", "Zoom out", () => zoom(1 / 1.6));
  K.add("f", "Fit the heatmap", () => {
    hm.fit();
    hm.draw();
  });
  K.add("l", "Linear / Hilbert layout", () => {
    hm.setLayout(hm.layoutKind === "linear" ? "hilbert" : "linear");
    $("layout").value = hm.layoutKind;
    hm.draw();
  });
  K.add("End", "Back to live", () => view.live && view.goLive());

  // ---- /proc views ----
  let report = "buddyinfo";
  for (const b of document.querySelectorAll("#proc-tabs button")) {
    b.addEventListener("click", () => {
      report = b.dataset.report;
      for (const x of document.querySelectorAll("#proc-tabs button")) x.setAttribute("aria-selected", x === b ? "true" : "false");
      loadReport();
    });
  }
  let reportBusy = false;
  async function loadReport() {
    if (reportBusy) return;
    reportBusy = true;
    try {
      const url = ds.apiReport.replace("/NAME", "/" + report) + atSeq();
      const r = await apiGet(url);
      const text = await r.text();
      if (r.ok) $("proc-text").textContent = text;
      else {
        let msg = text;
        try {
          msg = JSON.parse(text).error;
        } catch (e) {
          /* plain text */
        }
        $("proc-text").textContent = "(" + msg + ")";
      }
    } catch (e) {
      $("proc-text").textContent = "(unavailable)";
    } finally {
      reportBusy = false;
    }
  }
  setInterval(() => {
    if (document.visibilityState === "visible" && (view.status === "running" || view.status === "paused")) loadReport();
  }, 2000);
  view.on("position", () => loadReport());

  // ---- trace log ----
  const trace = $("trace");
  const filter = $("trace-filter");
  let traceAfter = -1;
  const MAX_TRACE = 2000;
  function traceMatch(el) {
    const q = filter.value.trim().toLowerCase();
    return !q || el.textContent.toLowerCase().includes(q);
  }
  // Events arrive live (with the metrics) and from the stored log (the API, for what
  // happened before this page opened); each is shown once.
  // Keys of the rows on screen only, so the set is as bounded as the log.
  const seen = new Set();
  function addTrace(e) {
    const key = e.seq + "|" + e.event + "|" + (e.time_ns || "") + "|" + (e.text || "").slice(0, 80);
    if (seen.has(key)) return;
    seen.add(key);
    const d = document.createElement("div");
    d.dataset.key = key;
    const name = document.createElement("span");
    name.className = "ev";
    name.textContent = e.event || "event";
    d.appendChild(name);
    const rest = e.text || Object.entries(e).filter(([k]) => !["event", "seq", "text"].includes(k)).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ");
    d.appendChild(document.createTextNode(" [" + (e.seq !== undefined ? e.seq : "?") + "] " + rest));
    d.dataset.event = e.event || "";
    d.hidden = !traceMatch(d);
    const stick = trace.scrollTop + trace.clientHeight >= trace.scrollHeight - 4;
    // In seq order: stored events of the past may arrive after live ones.
    const seq = typeof e.seq === "number" ? e.seq : Infinity;
    d.dataset.seq = seq;
    let after = trace.lastElementChild;
    while (after && +after.dataset.seq > seq) after = after.previousElementSibling;
    trace.insertBefore(d, after ? after.nextSibling : trace.firstChild);
    while (trace.childElementCount > MAX_TRACE) {
      seen.delete(trace.firstElementChild.dataset.key);
      trace.firstElementChild.remove();
    }
    if (stick) trace.scrollTop = trace.scrollHeight;
    if (/violat|contract|bug/i.test(e.event || "")) addViolation(e);
  }
  filter.addEventListener("input", () => {
    for (const d of trace.children) d.hidden = !traceMatch(d);
  });
  view.on("events", (m) => {
    for (const e of m.events || []) {
      if (e.seq === undefined) e.seq = m.seq;
      addTrace(e);
    }
  });
  let traceBusy = false;
  async function pollTrace() {
    if (traceBusy) return;
    traceBusy = true;
    try {
      const r = await apiGet(ds.apiEvents + "?after=" + traceAfter);
      if (r.ok) {
        const data = await r.json();
        for (const e of data.events || []) {
          addTrace(e);
          if (typeof e.seq === "number" && e.seq > traceAfter) traceAfter = e.seq;
        }
      }
    } catch (e) {
      // Offline for a moment (the connection indicator says so); the next poll retries.
    } finally {
      traceBusy = false;
    }
  }
  pollTrace();
  setInterval(() => {
    if (view.live || traceAfter < view.lastSeq) pollTrace();
  }, 2000);

  // ---- contract violations: listed, and marked on the page where they happen ----
  const violationPfns = [];
  function addViolation(e) {
    $("violations").hidden = false;
    const v = e.violation || e;
    const d = document.createElement("div");
    d.className = "violation";
    const pfn = typeof v.pfn === "number" ? v.pfn : null;
    d.dataset.pfn = pfn === null ? "" : pfn;
    const what = document.createElement("strong");
    what.textContent = (v.driver || "driver") + (v.mode ? " (" + v.mode + ")" : "");
    d.appendChild(what);
    d.appendChild(document.createTextNode(": broke “" + (v.rule || e.text || e.event) + "”" + (pfn !== null ? " at pfn " + pfn : "") + (e.seq !== undefined ? ", frame " + e.seq : "")));
    if (pfn !== null) {
      const a = document.createElement("button");
      a.type = "button";
      a.textContent = "show page";
      a.addEventListener("click", () => {
        hm.focusPfn(pfn, 24);
        hm.selectedCell = Math.floor(pfn / hm.pagesPerCell);
        hm.draw();
        showPage(pfn, true);
      });
      d.appendChild(document.createTextNode(" "));
      d.appendChild(a);
      if (violationPfns.length < 500) violationPfns.push(pfn);
      hm.marks = violationPfns;
      hm.overlayDirty = true;
    }
    $("violation-list").appendChild(d);
  }

  // ---- share and export ----
  function viewState() {
    const pos = view.position();
    const v = hm.view();
    const seq = pos.live ? null : Math.max(0, pos.seq);
    return { seq, position: seq, layout: v.layout, scale: v.scale, cx: v.cx, cy: v.cy, pfn: selectedPfn };
  }
  function saveHash() {
    const s = viewState();
    const parts = [];
    for (const [k, v] of Object.entries(s)) if (v !== null && v !== undefined) parts.push(k + "=" + encodeURIComponent(v));
    history.replaceState(null, "", "#" + parts.join("&"));
  }
  function parseHash() {
    const out = {};
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      if (!part) continue;
      const [k, v] = part.split("=");
      const val = decodeURIComponent(v || "");
      out[k] = k === "layout" ? val : parseFloat(val);
    }
    return out;
  }
  $("share-link").addEventListener("click", async () => {
    const state = viewState();
    if (state.seq === null) state.seq = state.position = Math.max(0, view.client.decoder.seq);
    let url;
    if (shareToken) {
      url = location.origin + location.pathname + "#" + new URLSearchParams(Object.entries(state).filter(([, v]) => v !== null)).toString();
    } else {
      const r = await api(ds.apiShares, "POST", { view_state: state });
      if (!r.ok) {
        toast("Could not create a share link: " + ((r.data && r.data.error) || r.status));
        return;
      }
      url = location.origin + r.data.url;
    }
    window.pagemigShareUrl = url;
    let out = $("share-url");
    if (!out) {
      out = document.createElement("input");
      out.id = "share-url";
      out.readOnly = true;
      out.size = 40;
      out.setAttribute("aria-label", "Share link");
      $("share-export").appendChild(out);
    }
    out.value = url;
    out.select();
    try {
      await navigator.clipboard.writeText(url);
      toast("Link copied: it opens this frame, read-only");
    } catch (e) {
      toast("Copy the link from the box");
    }
  });

  const recorder = window.PagemigExport.recorder(hm, () => view.position());
  $("export").addEventListener("change", async (ev) => {
    const what = ev.target.value;
    ev.target.value = "";
    const base = "run-" + cfg.run.slice(0, 8);
    if (what === "scenario-toml" || what === "scenario-json") {
      const fmt = what.endsWith("toml") ? "toml" : "json";
      const r = await apiGet(ds.apiScenario + "?format=" + fmt);
      if (!r.ok) return toast("Export failed: HTTP " + r.status);
      download(base + "-scenario." + fmt, await r.blob());
    } else if (what === "csv") {
      // A finished run's stored series is complete; a live run's newest samples are only
      // in this page until the next block is stored, so it exports what it has seen.
      const r = view.live ? null : await apiGet(ds.apiCsv);
      if (r && r.ok) download(base + "-metrics.csv", await r.blob());
      else if (view.charts) download(base + "-metrics.csv", view.charts.csv(), "text/csv");
    } else if (what === "png") {
      hm.composite().toBlob((b) => download(base + "-frame-" + Math.max(0, view.client.decoder.seq) + ".png", b), "image/png");
    } else if (what === "webm") {
      recorder.toggle(base);
    }
  });

  // ---- go ----
  // A frame named by the link or the address opens held there; otherwise live (or, for
  // a finished run, its last frame).
  view.start(typeof initial.seq === "number" && !isNaN(initial.seq) ? initial.seq : undefined);
  if (typeof initial.pfn === "number" && !isNaN(initial.pfn)) {
    // The shared view's selected page: its details, and its mark once the grid is known.
    selectedPfn = initial.pfn;
    setTimeout(() => showPage(initial.pfn, true), 0);
    let marked = false;
    view.on("frame", () => {
      if (marked || !hm.cells) return;
      marked = true;
      hm.selectedCell = Math.floor(initial.pfn / hm.pagesPerCell);
      hm.overlayDirty = true;
      hm.requestDraw();
    });
  }
  updateControls();
  loadReport();
})();
