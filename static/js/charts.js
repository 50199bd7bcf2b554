// Live metric charts on uPlot (static/vendor/uplot-*). One MetricCharts per run view keeps
// the engine's metrics samples as columns and feeds five charts: free pages per order,
// fragmentation index, pgmigrate success/fail, -EAGAIN per driver, compaction outcomes.
// Series whose names only appear in the data (drivers, outcome statuses) are added as
// they show up. Memory stays bounded: past MAX_POINTS samples every other one is dropped.
(function () {
  "use strict";

  const MAX_POINTS = 2000;
  // What a sample keeps: the charted fields and the scanners (for replayed frames). The
  // rest of the engine's metrics (vmstat, per-driver tables) is not kept per sample, so
  // a long run costs a bounded, small amount of memory.
  const KEEP = ["free_per_order", "fragindex", "pgmigrate_success", "pgmigrate_fail", "eagain", "compact_outcomes", "violations", "scanners"];
  function slim(m) {
    const out = {};
    for (const k of KEEP) if (m[k] !== undefined) out[k] = m[k];
    return out;
  }
  // Okabe-Ito and friends: colour-blind-safe series colours.
  const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#882255", "#999933", "#44aa99", "#aa4499", "#332288"];
  // Orders 0..10 on a light-to-dark ramp (cividis-like, readable without colour).
  const ORDER_COLOURS = ["#fde725", "#c2df23", "#86d549", "#52c569", "#2ab07f", "#1e9b8a", "#25858e", "#2d708e", "#38588c", "#433e85", "#482173"];

  function themeColours() {
    const cs = getComputedStyle(document.documentElement);
    return { fg: cs.getPropertyValue("--muted").trim() || "#666", grid: cs.getPropertyValue("--line").trim() || "#ddd" };
  }

  // Charts keyed by name; `columns` picks each sample's values.
  const DEFS = [
    {
      key: "free",
      title: "Free pages per order",
      fixed: () => Array.from({ length: 11 }, (_, o) => ({ id: String(o), label: "order " + o, stroke: ORDER_COLOURS[o] })),
      value: (m, id) => (m.free_per_order ? m.free_per_order[+id] : null),
    },
    {
      key: "fragindex",
      title: "Fragmentation index (target order)",
      fixed: () => [{ id: "fragindex", label: "fragindex", stroke: COLOURS[1] }],
      value: (m) => (m.fragindex === undefined ? null : m.fragindex),
    },
    {
      key: "pgmigrate",
      title: "pgmigrate success / fail",
      fixed: () => [
        { id: "pgmigrate_success", label: "success", stroke: COLOURS[2] },
        { id: "pgmigrate_fail", label: "fail", stroke: COLOURS[1] },
      ],
      value: (m, id) => (m[id] === undefined ? null : m[id]),
    },
    {
      key: "eagain",
      title: "-EAGAIN per driver",
      dynamic: (m) => Object.keys(m.eagain || {}),
      value: (m, id) => (m.eagain && m.eagain[id] !== undefined ? m.eagain[id] : null),
    },
    {
      key: "outcomes",
      title: "Compaction outcomes",
      dynamic: (m) => Object.keys(m.compact_outcomes || {}),
      value: (m, id) => (m.compact_outcomes && m.compact_outcomes[id] !== undefined ? m.compact_outcomes[id] : null),
    },
  ];

  class MetricCharts {
    // container: element to fill; opts.sync: cursor sync key shared by compared runs;
    // opts.only: chart keys to show.
    constructor(container, opts) {
      this.container = container;
      this.opts = opts || {};
      this.xs = []; // simulated time, ms
      this.seqs = [];
      this.samples = []; // raw metrics dicts
      this.charts = [];
      this.marker = null; // x of the scrub position
      this.onPick = null; // (sampleIndex) when the user clicks a chart
      this.defs = DEFS.filter((d) => !this.opts.only || this.opts.only.includes(d.key));
      this._build();
      document.addEventListener("pagemig:theme", () => this._build());
      if (window.ResizeObserver) {
        this._ro = new ResizeObserver(() => this._resize());
        this._ro.observe(container);
      }
    }

    _width() {
      return Math.max(200, this.container.clientWidth - 4);
    }

    _resize() {
      const w = this._width();
      for (const c of this.charts) if (c.u && c.u.width !== w) c.u.setSize({ width: w, height: c.u.height });
    }

    _build() {
      for (const c of this.charts) {
        if (c.u) c.u.destroy();
        c.box.remove();
      }
      this.charts = [];
      const theme = themeColours();
      for (const def of this.defs) {
        const box = document.createElement("div");
        box.className = "chart";
        box.dataset.chart = def.key;
        const h = document.createElement("h3");
        h.textContent = def.title;
        box.appendChild(h);
        this.container.appendChild(box);
        const series = def.fixed ? def.fixed() : [];
        const c = { def, box, series, u: null, theme };
        this.charts.push(c);
        this._make(c);
      }
      this._refresh();
    }

    _make(c) {
      if (c.u) c.u.destroy();
      const el = c.box.querySelector(".u-wrap");
      if (el) el.remove();
      const self = this;
      const theme = c.theme;
      const axis = { stroke: theme.fg, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid } };
      const opts = {
        width: this._width(),
        height: this.opts.height || 130,
        legend: { show: true, live: true },
        cursor: this.opts.sync ? { sync: { key: this.opts.sync } } : {},
        scales: { x: { time: false } },
        axes: [Object.assign({ values: (u, v) => v.map((x) => fmtMs(x)) }, axis), Object.assign({ size: 50, space: 24, values: (u, v) => v.map(fmtNum) }, axis)],
        series: [{ label: "time", value: (u, v) => (v === null || v === undefined ? "--" : fmtMs(v)) }].concat(
          c.series.map((s, i) => ({ label: s.label, stroke: s.stroke || COLOURS[i % COLOURS.length], width: 1.5, points: { show: false } }))
        ),
        hooks: {
          draw: [
            (u) => {
              if (self.marker === null) return;
              const x = Math.round(u.valToPos(self.marker, "x", true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
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
      };
      const wrap = document.createElement("div");
      wrap.className = "u-wrap";
      c.box.appendChild(wrap);
      c.u = new window.uPlot(opts, this._data(c), wrap);
      c.u.over.addEventListener("click", () => {
        const i = c.u.cursor.idx;
        if (i !== null && i !== undefined && this.onPick) this.onPick(i);
      });
    }

    _data(c) {
      const cols = [this.xs];
      for (const s of c.series) cols.push(this.samples.map((m) => c.def.value(m, s.id)));
      return cols;
    }

    // Add one metrics sample (message of type "metrics" from the socket or the API).
    push(seq, timeNs, metrics) {
      const x = timeNs / 1e6;
      const n = this.xs.length;
      if (n && seq <= this.seqs[n - 1]) {
        // A replay from an earlier position: drop what comes after it.
        let k = this.seqs.findIndex((s) => s >= seq);
        if (k < 0) k = n;
        this.xs.length = this.seqs.length = this.samples.length = k;
      }
      this.xs.push(x);
      this.seqs.push(seq);
      this.samples.push(slim(metrics));
      if (this.xs.length > MAX_POINTS) this._decimate();
      this._refresh();
    }

    setAll(samples) {
      this.xs = samples.map((s) => s.time_ns / 1e6);
      this.seqs = samples.map((s) => s.seq);
      this.samples = samples.map((s) => slim(s.metrics));
      while (this.xs.length > MAX_POINTS) this._decimate();
      this._refresh();
    }

    _decimate() {
      const keep = (a) => a.filter((_, i) => i % 2 === 0 || i === a.length - 1);
      this.xs = keep(this.xs);
      this.seqs = keep(this.seqs);
      this.samples = keep(this.samples);
    }

    _refresh() {
      const last = this.samples[this.samples.length - 1];
      for (const c of this.charts) {
        if (c.def.dynamic && last) {
          const ids = new Set(c.series.map((s) => s.id));
          const all = new Set();
          for (const m of this.samples.slice(-50)) for (const id of c.def.dynamic(m)) all.add(id);
          const missing = [...all].filter((id) => !ids.has(id));
          if (missing.length) {
            for (const id of missing) c.series.push({ id, label: id, stroke: COLOURS[c.series.length % COLOURS.length] });
            this._make(c);
            continue;
          }
        }
        c.u.setData(this._data(c));
      }
    }

    setMarker(timeNs) {
      this.marker = timeNs === null ? null : timeNs / 1e6;
      for (const c of this.charts) c.u.redraw(false, false);
    }

    // Value of a series at the last sample (tests and the summary table read these).
    latest(chartKey, id) {
      const c = this.charts.find((x) => x.def.key === chartKey);
      const last = this.samples[this.samples.length - 1];
      return c && last ? c.def.value(last, id) : null;
    }

    // Metrics as CSV: one row per sample, one column per series of every chart.
    csv() {
      const cols = [];
      for (const c of this.charts) for (const s of c.series) cols.push({ c, s, name: c.def.key + (c.def.fixed && c.series.length === 1 ? "" : ":" + s.id) });
      const rows = [["seq", "time_ns"].concat(cols.map((x) => x.name)).join(",")];
      for (let i = 0; i < this.samples.length; i++) {
        const v = cols.map((x) => {
          const y = x.c.def.value(this.samples[i], x.s.id);
          return y === null || y === undefined ? "" : String(y);
        });
        rows.push([this.seqs[i], Math.round(this.xs[i] * 1e6)].concat(v).join(","));
      }
      return rows.join("\n") + "\n";
    }
  }

  function fmtNum(v) {
    if (v === null || v === undefined) return "";
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return String(+v.toFixed(2));
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "";
    if (Math.abs(ms) >= 1000) return (ms / 1000).toFixed(2) + " s";
    if (Math.abs(ms) >= 1) return ms.toFixed(1) + " ms";
    return (ms * 1000).toFixed(0) + " µs";
  }

  window.PagemigCharts = { MetricCharts, fmtMs, COLOURS };
})();
