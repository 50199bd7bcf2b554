// One run on screen: its socket, heatmap, legend, charts and time position. The run page
// uses one with every panel; the compare page uses one per run with a shared time cursor.
//
// cfg (from the page's json_script): {run, ws, status, last_seq, fps, can_control,
//   cells, pages_per_cell, zones, drivers, api: {metrics, page_info, ...}}
(function () {
  "use strict";
  const P = window.PagemigProtocol;
  const H = window.PagemigHeatmap;

  const LIVE_STATUSES = ["queued", "running", "paused"];

  function wsUrl(path) {
    if (/^wss?:/.test(path)) return path;
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  async function getJson(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  class RunView {
    // el: {heatmap, legend?, charts?}; opts: {view: initial view state, chartsOnly, sync}
    constructor(cfg, el, opts) {
      this.cfg = cfg;
      this.el = el;
      this.opts = opts || {};
      this.status = cfg.status;
      this.lastSeq = Math.max(-1, cfg.last_seq === undefined ? -1 : cfg.last_seq);
      this.mode = null; // "live" | "replay"
      this.target = null; // replay position being held, or null
      this.metrics = null; // latest metrics dict
      this.metricsSeq = -1;
      this.timeNs = 0;
      this.canControl = !!cfg.can_control;
      this.listeners = {};
      this.heatmap = new H.Heatmap(el.heatmap, { layout: (this.opts.view && this.opts.view.layout) || "linear", dark: window.PagemigTheme && window.PagemigTheme.isDark() });
      this.heatmap.setZones(cfg.zones || []);
      this.pendingView = this.opts.view && this.opts.view.scale ? this.opts.view : null;
      this.client = new P.StreamClient(wsUrl(cfg.ws), {
        sink: this.heatmap,
        onJson: (m) => this._json(m),
        onRender: () => this._render(),
        onState: (s) => this._emit("conn", s),
      });
      this.charts = el.charts ? new window.PagemigCharts.MetricCharts(el.charts, { sync: this.opts.sync, height: this.opts.chartHeight }) : null;
      if (this.charts) this.charts.onPick = (i) => this._emit("pick", { seq: this.charts.seqs[i] });
      document.addEventListener("pagemig:theme", (ev) => {
        this.heatmap.setDark(ev.detail.dark);
        this._drawLegend(true);
        this.heatmap.draw();
      });
      const resize = () => {
        this.heatmap.resize(el.heatmap.clientWidth, el.heatmap.clientHeight);
        this.heatmap.draw();
      };
      if (window.ResizeObserver) new ResizeObserver(resize).observe(el.heatmap);
      resize();
      this._legendAt = 0;
      if (el.legend) this._drawLegend(true);
    }

    on(name, fn) {
      (this.listeners[name] = this.listeners[name] || []).push(fn);
    }

    _emit(name, arg) {
      for (const fn of this.listeners[name] || []) fn(arg);
    }

    get live() {
      return LIVE_STATUSES.includes(this.status);
    }

    // Connect. `seq`: open a replay held at that frame (share links, compare); otherwise
    // live for a running run and the last frame of a finished one.
    start(seq) {
      let extra = null;
      if (seq !== undefined && seq !== null) {
        extra = { from_seq: seq };
        this.target = seq;
        this.client.hold(seq);
      } else if (!this.live && this.lastSeq >= 0) {
        extra = { from_seq: this.lastSeq };
        this.target = this.lastSeq;
        this.client.hold(this.lastSeq);
      }
      this.client.subscribeExtra = extra;
      this.client.connect();
      this._loadMetrics();
    }

    // Show the frame `seq` and stay there.
    seek(seq) {
      seq = Math.max(0, Math.min(seq, Math.max(this.lastSeq, 0)));
      this.target = seq;
      this.client.hold(seq);
      this.client.subscribe({ from_seq: seq });
      this._emit("position", this.position());
    }

    // Play the stored frames on from where we are (a replay, paced like the run).
    play() {
      const from = Math.max(0, this.client.decoder.seq);
      this.target = null;
      this.client.hold(null);
      this.client.holdSeq = null;
      if (this.live && from >= this.lastSeq - 1) return this.goLive();
      this.client.subscribe({ from_seq: from });
      this._emit("position", this.position());
    }

    goLive() {
      this.target = null;
      this.client.holdSeq = null;
      this.client.held = [];
      this.client.subscribe(null);
      this._emit("position", this.position());
    }

    send(op) {
      return this.client.send(op);
    }

    position() {
      return {
        seq: this.client.decoder.seq,
        lastSeq: this.lastSeq,
        timeNs: this.client.decoder.timeNs,
        live: this.mode === "live" && this.target === null,
        mode: this.mode,
        target: this.target,
      };
    }

    async _loadMetrics() {
      if (!this.cfg.api || !this.cfg.api.metrics) return;
      let samples = [];
      try {
        const data = await (this.cfg.getJson || getJson)(this.cfg.api.metrics);
        // The API puts each sample's metrics beside seq/tick/time_ns.
        samples = (data.samples || data).map((s) => (s.metrics ? s : { seq: s.seq, tick: s.tick, time_ns: s.time_ns, metrics: s }));
        if (this.charts) {
          // Live samples may have arrived meanwhile; keep whichever is longer.
          if (!this.charts.seqs.length || samples.length && samples[samples.length - 1].seq >= this.charts.seqs[this.charts.seqs.length - 1]) this.charts.setAll(samples);
        }
        if (samples.length) {
          const last = samples[samples.length - 1];
          if (last.seq >= this.metricsSeq) this._metrics(last.seq, last.time_ns, last.metrics, true);
        }
      } catch (e) {
        console.warn("pagemig: metrics history unavailable:", e.message);
      }
      this._emit("history", samples);
    }

    _metrics(seq, timeNs, m, fromHistory) {
      this.metrics = m;
      this.metricsSeq = seq;
      if (m.scanners) this.heatmap.setScanners(m.scanners);
      if (this.charts && !fromHistory) this.charts.push(seq, timeNs, m);
      window.pagemigMetricsSamples = (window.pagemigMetricsSamples || 0) + 1;
      this._emit("metrics", { seq, timeNs, metrics: m });
    }

    _json(m) {
      switch (m.type) {
        case "hello":
          this.canControl = !!m.can_control;
          this.status = m.status;
          this.lastSeq = Math.max(this.lastSeq, m.last_seq === undefined ? -1 : m.last_seq);
          this._emit("status", m);
          break;
        case "subscribed":
          this.mode = m.mode;
          this.status = m.status;
          this.lastSeq = Math.max(this.lastSeq, m.seq === undefined || m.seq === null ? -1 : m.seq);
          this._emit("status", m);
          this._emit("position", this.position());
          break;
        case "status":
          this.status = m.status;
          if (typeof m.seq === "number") this.lastSeq = Math.max(this.lastSeq, m.seq);
          this._emit("status", m);
          if (!this.live && this.mode === "live") {
            // The run ended while we watched: what we see is its last frame.
            this.mode = "replay";
            this._emit("position", this.position());
          }
          break;
        case "metrics":
          // Live metrics describe the run's newest frame; while held in the past they
          // still feed the charts but not the scanners on the held picture.
          if (this.target === null) this._metrics(m.seq, m.time_ns, m.metrics, false);
          else if (this.charts) this.charts.push(m.seq, m.time_ns, m.metrics);
          if (m.seq > this.lastSeq) this.lastSeq = m.seq;
          break;
        case "replay_end":
          this._emit("replay_end", m);
          break;
        default:
          this._emit(m.type, m);
      }
    }

    _render() {
      const hm = this.heatmap;
      if (this.pendingView && hm.layout) {
        hm.setView(this.pendingView);
        this.pendingView = null;
      }
      hm.draw();
      const d = this.client.decoder;
      if (d.seq > this.lastSeq && this.mode === "live") this.lastSeq = d.seq;
      this.timeNs = d.timeNs;
      if (this.target !== null && d.seq >= 0 && this.metrics && this.metricsSeq !== d.seq) this._scannersAt(d.seq);
      this._drawLegend(hm.pagesPerCell !== this._legendPpc);
      this._legendPpc = hm.pagesPerCell;
      this._emit("frame", this.position());
    }

    // Scanner positions for a replayed frame come from the nearest metrics sample.
    _scannersAt(seq) {
      if (!this.charts || !this.charts.seqs.length) return;
      const seqs = this.charts.seqs;
      let lo = 0;
      let hi = seqs.length - 1;
      if (seqs[0] > seq) return;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (seqs[mid] <= seq) lo = mid;
        else hi = mid - 1;
      }
      const m = this.charts.samples[lo];
      if (m && m.scanners) this.heatmap.setScanners(m.scanners);
    }

    _drawLegend(force) {
      const box = this.el.legend;
      if (!box) return;
      const now = performance.now();
      if (!force && now - this._legendAt < 250) {
        // Throttled, but the last change always shows (a trailing update).
        if (!this._legendTimer) this._legendTimer = setTimeout(() => ((this._legendTimer = null), this._drawLegend(false)), 260);
        return;
      }
      this._legendAt = now;
      const hm = this.heatmap;
      if (force || !box.children.length) {
        box.textContent = "";
        for (const s of H.STATES) {
          const item = document.createElement("span");
          item.className = "item";
          item.dataset.state = s.code;
          const sw = document.createElement("span");
          sw.className = "sw";
          sw.style.background = hm.colour(s.code);
          item.appendChild(sw);
          item.appendChild(document.createTextNode(s.name));
          const c = document.createElement("span");
          c.className = "count";
          item.appendChild(c);
          box.appendChild(item);
        }
        if (hm.pagesPerCell > 1) {
          const note = document.createElement("span");
          note.className = "muted";
          note.textContent = "(cells of " + hm.pagesPerCell + " pages)";
          box.appendChild(note);
        }
      }
      for (const item of box.querySelectorAll(".item")) {
        const n = hm.counts[+item.dataset.state] || 0;
        item.querySelector(".count").textContent = n.toLocaleString("en-US");
        item.classList.toggle("muted", n === 0);
      }
    }
  }

  window.PagemigRunView = { RunView, getJson, wsUrl };
})();
