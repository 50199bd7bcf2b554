// Compare: two to four runs side by side on one time cursor (moving it seeks every run
// to the frame at that simulated time), their metrics overlaid, a summary of outcomes
// and the scenario differences, with differences highlighted.
(function () {
  "use strict";
  const { readJsonScript, fmtInt, toast } = window.Pagemig;
  const $ = (id) => document.getElementById(id);

  const pick = $("compare-pick");
  if (pick) {
    pick.addEventListener("submit", (ev) => {
      const codes = [...pick.querySelectorAll("input.cmp:checked")].map((c) => c.value);
      if (codes.length < 2 || codes.length > 4) {
        ev.preventDefault();
        toast("Pick two to four runs");
        return;
      }
      $("compare-runs").value = codes.join(",");
      for (const c of pick.querySelectorAll("input.cmp")) c.disabled = true;
    });
    return;
  }
  const cfgs = readJsonScript("compare-runs");
  if (!cfgs) return;

  const hash = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    const [k, v] = part.split("=");
    if (k) hash[k] = decodeURIComponent(v || "");
  }

  // ---- the runs ----
  const cards = [...document.querySelectorAll(".run-card")];
  const views = cfgs.map((cfg, i) => {
    const card = cards[i];
    const zones = [];
    let start = 0;
    for (const z of (cfg.scenario.memory && cfg.scenario.memory.zones) || []) {
      zones.push({ name: z.name, start_pfn: start, end_pfn: start + z.pages });
      start += z.pages;
    }
    cfg.zones = zones;
    const v = new window.PagemigRunView.RunView(cfg, { heatmap: card.querySelector(".cmp-heatmap"), legend: card.querySelector(".cmp-legend") }, { view: { layout: hash.layout || "linear" } });
    v.samples = []; // [{seq, time_ns, metrics}]
    v.on("history", (samples) => {
      v.samples = samples;
      histories++;
      if (histories === views.length) ready();
    });
    v.on("metrics", ({ seq, timeNs, metrics }) => {
      if (!v.samples.length || v.samples[v.samples.length - 1].seq < seq) v.samples.push({ seq, time_ns: timeNs, metrics });
      // Bounded: past 4000 samples keep every other one (the time cursor interpolates).
      if (v.samples.length > 4000) v.samples = v.samples.filter((_, i) => i % 2 === 0 || i === v.samples.length - 1);
    });
    v.on("frame", (pos) => {
      card.querySelector(".cmp-pos").textContent = "frame " + fmtInt(Math.max(0, pos.seq)) + " · " + window.PagemigCharts.fmtMs(pos.timeNs / 1e6);
      card.dataset.seq = pos.seq;
      window.pagemigComparePositions = views.map((x) => x.client.decoder.seq);
    });
    v.on("status", (m) => {
      const b = card.querySelector(".badge");
      b.textContent = m.status;
      b.dataset.status = m.status;
    });
    v.on("conn", () => {
      const states = views.map((x) => x.client.state);
      const all = states.every((s) => s === "live");
      $("conn").textContent = all ? "connected" : states.includes("reconnecting") ? "reconnecting…" : "connecting…";
      document.body.dataset.conn = all ? "live" : "connecting";
    });
    return v;
  });
  let histories = 0;
  window.pagemigCompare = views;

  // ---- the time cursor ----
  const cursor = $("cmp-cursor");
  let maxT = 0;
  function endTime(v) {
    const s = v.samples;
    return s.length ? s[s.length - 1].time_ns : 0;
  }
  // The frame of run v at simulated time t: between two metric samples, frames are
  // spread evenly over time (each frame is the same number of engine ticks).
  function seqAt(v, t) {
    const s = v.samples;
    if (!s.length) return 0;
    if (t <= s[0].time_ns) return s[0].time_ns > 0 ? Math.round((s[0].seq * t) / s[0].time_ns) : s[0].seq;
    for (let i = 1; i < s.length; i++) {
      if (s[i].time_ns >= t) {
        const a = s[i - 1];
        const b = s[i];
        const f = b.time_ns > a.time_ns ? (t - a.time_ns) / (b.time_ns - a.time_ns) : 1;
        return Math.round(a.seq + f * (b.seq - a.seq));
      }
    }
    return Math.max(s[s.length - 1].seq, v.lastSeq);
  }
  function cursorTime() {
    return (+cursor.value / +cursor.max) * maxT;
  }
  function showTime() {
    $("cmp-time").textContent = window.PagemigCharts.fmtMs(cursorTime() / 1e6) + " / " + window.PagemigCharts.fmtMs(maxT / 1e6);
  }
  function seekAll() {
    const t = cursorTime();
    const atEnd = +cursor.value >= +cursor.max;
    for (const v of views) {
      if (atEnd && v.live) v.goLive();
      else v.seek(Math.min(seqAt(v, t), Math.max(v.lastSeq, 0)));
    }
    window.pagemigCompareCursor = t;
    showTime();
    saveHash();
    if (chart) chart.setMarker(atEnd ? null : t);
  }
  cursor.addEventListener("input", showTime);
  cursor.addEventListener("change", seekAll);

  let playing = null;
  $("cmp-play").addEventListener("click", togglePlay);
  function togglePlay() {
    if (playing) {
      clearInterval(playing);
      playing = null;
      $("cmp-play").textContent = "▶";
      return;
    }
    if (+cursor.value >= +cursor.max) cursor.value = "0";
    $("cmp-play").textContent = "❚❚";
    playing = setInterval(() => {
      cursor.value = String(Math.min(+cursor.max, +cursor.value + 5));
      seekAll();
      if (+cursor.value >= +cursor.max) togglePlay();
    }, 250);
  }
  window.PagemigKeys.add("space", "Play / pause the time cursor", togglePlay);
  window.PagemigKeys.add("ArrowRight", "Later", () => {
    cursor.value = String(Math.min(+cursor.max, +cursor.value + 10));
    seekAll();
  });
  window.PagemigKeys.add("ArrowLeft", "Earlier", () => {
    cursor.value = String(Math.max(0, +cursor.value - 10));
    seekAll();
  });

  $("cmp-layout").value = hash.layout || "linear";
  $("cmp-layout").addEventListener("change", (ev) => {
    for (const v of views) {
      v.heatmap.setLayout(ev.target.value);
      v.heatmap.draw();
    }
    saveHash();
  });

  function saveHash() {
    const parts = ["layout=" + $("cmp-layout").value];
    if (+cursor.value < +cursor.max) parts.push("t=" + Math.round(cursorTime()));
    history.replaceState(null, "", location.pathname + location.search + "#" + parts.join("&"));
  }
  $("cmp-link").addEventListener("click", async () => {
    saveHash();
    window.pagemigShareUrl = location.href;
    try {
      await navigator.clipboard.writeText(location.href);
      toast("Link copied: it opens these runs at this time");
    } catch (e) {
      toast("Copy the address bar");
    }
  });

  // ---- once every run's history is in ----
  let chart = null;
  function ready() {
    maxT = Math.max(...views.map(endTime), 1);
    const t = hash.t !== undefined ? Math.min(+hash.t, maxT) : maxT;
    cursor.value = String(Math.round((t / maxT) * +cursor.max));
    showTime();
    for (const v of views) {
      if (hash.t !== undefined) v.start(seqAt(v, t));
      else v.start();
    }
    buildChart();
    summary();
    diff();
  }
  for (const v of views) v._loadMetrics();
  // RunView.start() loads metrics again; keep it to one fetch per run.
  for (const v of views) v._loadMetrics = () => {};

  function metricValue(m, key) {
    if (!m) return null;
    if (key === "eagain") return Object.values(m.eagain || {}).reduce((a, b) => a + b, 0);
    if (key === "free_high") return (m.free_per_order || []).slice(9).reduce((a, b, i) => a + b * Math.pow(2, 9 + i), 0);
    const v = m[key];
    return v === undefined ? null : v;
  }
  function buildChart() {
    const box = $("cmp-chart");
    const render = () => {
      box.textContent = "";
      const key = $("cmp-metric").value;
      const tables = views.map((v) => [v.samples.map((s) => s.time_ns / 1e6), v.samples.map((s) => metricValue(s.metrics, key))]);
      const filled = tables.filter((t) => t[0].length);
      if (!filled.length) {
        box.textContent = "No metrics recorded yet.";
        return;
      }
      const data = window.uPlot.join(filled);
      const cs = getComputedStyle(document.documentElement);
      const axis = { stroke: cs.getPropertyValue("--muted").trim(), grid: { stroke: cs.getPropertyValue("--line").trim() } };
      const u = new window.uPlot(
        {
          width: Math.max(300, box.clientWidth),
          height: 220,
          scales: { x: { time: false } },
          axes: [Object.assign({ values: (u, vals) => vals.map((x) => window.PagemigCharts.fmtMs(x)) }, axis), Object.assign({ size: 60 }, axis)],
          series: [{ label: "time" }].concat(views.filter((v) => v.samples.length).map((v, i) => ({ label: v.cfg.title, stroke: window.PagemigCharts.COLOURS[i], width: 1.5, spanGaps: true }))),
          hooks: {
            draw: [
              (u) => {
                if (marker === null) return;
                const x = Math.round(u.valToPos(marker / 1e6, "x", true));
                const ctx = u.ctx;
                ctx.save();
                ctx.strokeStyle = "#cc79a7";
                ctx.lineWidth = 2;
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
                ctx.restore();
              },
            ],
          },
        },
        data,
        box
      );
      u.over.addEventListener("click", () => {
        const i = u.cursor.idx;
        if (i === null || i === undefined) return;
        cursor.value = String(Math.round(((data[0][i] * 1e6) / maxT) * +cursor.max));
        seekAll();
      });
      chartU = u;
    };
    let chartU = null;
    let marker = null;
    chart = {
      setMarker(t) {
        marker = t;
        if (chartU) chartU.redraw(false, false);
      },
    };
    $("cmp-metric").addEventListener("change", render);
    document.addEventListener("pagemig:theme", render);
    render();
  }

  // ---- outcomes: the last sample's metrics and the final /proc/vmstat counters ----
  function summary() {
    const rows = [];
    const last = views.map((v) => (v.samples.length ? v.samples[v.samples.length - 1].metrics : {}));
    const add = (label, values) => rows.push([label, values]);
    add("frames", views.map((v) => Math.max(v.lastSeq, 0)));
    add("simulated time", views.map((v) => window.PagemigCharts.fmtMs(endTime(v) / 1e6)));
    for (const k of ["pgmigrate_success", "pgmigrate_fail", "fragindex", "violations"]) add(k, last.map((m) => metricValue(m, k)));
    add("-EAGAIN (all drivers)", last.map((m) => metricValue(m, "eagain")));
    add("free pages in order ≥ 9 blocks", last.map((m) => metricValue(m, "free_high")));
    const outcomes = new Set();
    for (const m of last) for (const k of Object.keys(m.compact_outcomes || {})) outcomes.add(k);
    for (const k of [...outcomes].sort()) add("compaction " + k, last.map((m) => (m.compact_outcomes || {})[k] || 0));
    const counters = new Set();
    for (const c of cfgs) for (const k of Object.keys(c.counters || {})) counters.add(k);
    for (const k of [...counters].sort()) add(k, cfgs.map((c) => (c.counters || {})[k]));
    fillTable($("cmp-summary"), rows);
  }

  function flatten(v, prefix, out) {
    if (v !== null && typeof v === "object") {
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      if (!entries.length) out[prefix] = Array.isArray(v) ? "[]" : "{}";
      for (const [k, x] of entries) flatten(x, Array.isArray(v) ? prefix + "[" + k + "]" : prefix ? prefix + "." + k : k, out);
    } else out[prefix] = v;
    return out;
  }
  function diff() {
    const flat = cfgs.map((c) => flatten({ seed: c.seed, profile: c.profile, engine_version: c.engine_version, scenario: c.scenario }, "", {}));
    const keys = new Set();
    for (const f of flat) for (const k of Object.keys(f)) keys.add(k);
    const rows = [];
    for (const k of [...keys].sort()) {
      const vals = flat.map((f) => f[k]);
      if (vals.some((x) => JSON.stringify(x) !== JSON.stringify(vals[0]))) rows.push([k, vals.map((x) => (x === undefined ? "(absent)" : x))]);
    }
    if (!rows.length) rows.push(["(no differences: same scenario, seed and kernel)", cfgs.map(() => "")]);
    fillTable($("cmp-diff"), rows);
  }
  function fillTable(t, rows) {
    t.textContent = "";
    const head = t.insertRow();
    head.appendChild(Object.assign(document.createElement("th"), { textContent: "" }));
    for (const c of cfgs) head.appendChild(Object.assign(document.createElement("th"), { textContent: c.title }));
    for (const [label, vals] of rows) {
      const r = t.insertRow();
      r.insertCell().textContent = label;
      const differ = vals.some((x) => JSON.stringify(x) !== JSON.stringify(vals[0]));
      for (const v of vals) {
        const c = r.insertCell();
        c.className = "num" + (differ ? " diff" : "");
        c.textContent = v === null || v === undefined ? "–" : typeof v === "number" ? (Number.isInteger(v) ? fmtInt(v) : v.toFixed(3)) : String(v);
      }
      if (differ) r.dataset.differs = "1";
    }
  }
})();
