// pagemig heatmap: every page of the simulated machine as one cell on a Canvas2D.
//
// One ImageData of grid size (one pixel per cell) is kept with a Uint32Array view of its
// pixels; frames write cells through a position map (linear or Hilbert) and a 256-entry
// colour table. Once per animation frame the dirty rows go to the grid canvas with one
// putImageData. Zoom and pan are a CSS transform of that canvas (pixelated), so the
// compositor scales it and a frame costs no more than the putImageData itself. A second
// canvas of the view's size on top carries the overlays (pageblock grid, zone borders, the
// two scanners of each zone, hover and selection) and is redrawn only when they change.
(function () {
  "use strict";

  // Display states (simulator.STATE_NAMES, index = code) with a colour-blind-safe palette
  // built on Okabe-Ito; free pages stay close to the background so activity stands out.
  const STATES = [
    { code: 0, name: "free", light: "#eeeeee", dark: "#202428" },
    { code: 1, name: "free (pcp)", light: "#c9c9c9", dark: "#3d434a" },
    { code: 2, name: "lru_anon", light: "#0072b2", dark: "#2b8fd6" },
    { code: 3, name: "lru_file", light: "#56b4e9", dark: "#56b4e9" },
    { code: 4, name: "driver", light: "#009e73", dark: "#00b386" },
    { code: 5, name: "unmovable", light: "#d55e00", dark: "#e8731a" },
    { code: 6, name: "reclaimable", light: "#e69f00", dark: "#e69f00" },
    { code: 7, name: "pinned", light: "#cc79a7", dark: "#d98cb8" },
    { code: 8, name: "compound", light: "#882255", dark: "#b8487f" },
    { code: 9, name: "reserved", light: "#6e6e6e", dark: "#8a8a8a" },
    { code: 10, name: "hole", light: "#2b2b2b", dark: "#0a0a0a" },
    { code: 11, name: "isolated (source)", light: "#f0e442", dark: "#f0e442" },
    { code: 12, name: "isolated (free target)", light: "#000000", dark: "#ffffff" },
  ];
  const UNKNOWN = { light: "#ff00ff", dark: "#ff00ff" };
  const PAGEBLOCK_PAGES = 512;
  const MAX_SCALE = 64; // screen pixels per cell at the deepest zoom

  function rgba32(hex) {
    // ImageData is RGBA in memory; on little-endian machines the u32 reads ABGR.
    const r = parseInt(hex.slice(1, 3), 16);
    const g = parseInt(hex.slice(3, 5), 16);
    const b = parseInt(hex.slice(5, 7), 16);
    return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }

  // Hilbert curve index -> (x, y) on a side-n square (n a power of two).
  function hilbertD2xy(n, d) {
    let x = 0;
    let y = 0;
    let t = d;
    for (let s = 1; s < n; s *= 2) {
      const rx = 1 & (t >> 1);
      const ry = 1 & (t ^ rx);
      if (ry === 0) {
        if (rx === 1) {
          x = s - 1 - x;
          y = s - 1 - y;
        }
        const tmp = x;
        x = y;
        y = tmp;
      }
      x += s * rx;
      y += s * ry;
      t = Math.floor(t / 4);
    }
    return [x, y];
  }

  function hilbertXy2d(n, x, y) {
    let d = 0;
    for (let s = n / 2; s >= 1; s /= 2) {
      const rx = (x & s) > 0 ? 1 : 0;
      const ry = (y & s) > 0 ? 1 : 0;
      d += s * s * ((3 * rx) ^ ry);
      if (ry === 0) {
        if (rx === 1) {
          x = s - 1 - x;
          y = s - 1 - y;
        }
        const tmp = x;
        x = y;
        y = tmp;
      }
    }
    return d;
  }

  function pow2ceil(v) {
    let p = 1;
    while (p < v) p *= 2;
    return p;
  }

  // Where each cell goes. Linear: rows of `width` cells (a power of two, so pageblocks
  // line up in columns). Hilbert: consecutive pfns stay close in both directions, and any
  // aligned power-of-two run of pages (a buddy block, a pageblock) is a compact rectangle.
  function buildLayout(kind, cells) {
    if (kind === "hilbert") {
      let n = 1;
      while (n * n < cells) n *= 2;
      // Fewer than half the square's cells: the first half of the curve fills the left
      // half, which we lay on its side so the grid is wide rather than tall.
      const half = cells <= (n * n) / 2;
      const width = n;
      const height = half ? n / 2 : n;
      const pos = new Uint32Array(cells);
      for (let c = 0; c < cells; c++) {
        const p = hilbertD2xy(n, c);
        const x = half ? p[1] : p[0];
        const y = half ? p[0] : p[1];
        pos[c] = y * width + x;
      }
      return {
        kind,
        width,
        height,
        pos,
        cellAt(x, y) {
          const c = half ? hilbertXy2d(n, y, x) : hilbertXy2d(n, x, y);
          return c < cells ? c : -1;
        },
        xyOf(c) {
          const p = pos[c];
          return [p % width, Math.floor(p / width)];
        },
      };
    }
    const width = Math.max(1, pow2ceil(Math.ceil(Math.sqrt(cells))));
    const height = Math.max(1, Math.ceil(cells / width));
    const pos = new Uint32Array(cells);
    for (let c = 0; c < cells; c++) pos[c] = c;
    return {
      kind: "linear",
      width,
      height,
      pos,
      cellAt(x, y) {
        const c = y * width + x;
        return c < cells ? c : -1;
      },
      xyOf(c) {
        return [c % width, Math.floor(c / width)];
      },
    };
  }

  class Heatmap {
    // `box` is an element the heatmap fills (it is given position: relative).
    constructor(box, opts) {
      opts = opts || {};
      this.box = box;
      box.classList.add("heatmap-box");
      this.gridCanvas = document.createElement("canvas");
      this.gridCanvas.className = "heatmap-grid";
      this.gridCtx = this.gridCanvas.getContext("2d", { alpha: false });
      this.canvas = document.createElement("canvas");
      this.canvas.className = "heatmap-overlay";
      this.ctx = this.canvas.getContext("2d");
      // Positioning through the CSSOM so the heatmap works without its stylesheet (the
      // benchmark page) and under a CSP that forbids inline style attributes.
      if (getComputedStyle(box).position === "static") box.style.position = "relative";
      box.style.overflow = "hidden";
      for (const c of [this.gridCanvas, this.canvas]) {
        c.style.position = "absolute";
        c.style.left = "0";
        c.style.top = "0";
      }
      this.gridCanvas.style.transformOrigin = "0 0";
      this.gridCanvas.style.imageRendering = "pixelated";
      box.appendChild(this.gridCanvas);
      box.appendChild(this.canvas);
      this.vw = 1; // view size in CSS pixels
      this.vh = 1;
      this.dpr = window.devicePixelRatio || 1;
      this.layoutKind = opts.layout === "hilbert" ? "hilbert" : "linear";
      this.dark = !!opts.dark;
      this.lut = new Uint32Array(256);
      this.cells = 0;
      this.pagesPerCell = 1;
      this.aggregated = false;
      this.states = new Uint8Array(0);
      this.counts = new Float64Array(256);
      this.layout = null;
      this.image = null;
      this.pix = null;
      this.dirtyMin = Infinity;
      this.dirtyMax = -1;
      this.scale = 1;
      this.cx = 0; // grid coordinates at the centre of the canvas
      this.cy = 0;
      this.fitted = true; // follow the canvas size until the user zooms or pans
      this.zones = []; // [{name, start_pfn, end_pfn}]
      this.scanners = []; // [{zone, migrate_pfn, free_pfn, active}]
      this.hoverCell = -1;
      this.selectedCell = -1;
      this.marks = []; // pfns to call out (contract violations)
      this.tiles = new Map(); // pfn start -> Uint8Array (full-resolution pages)
      this.needsDraw = true;
      this.viewDirty = true;
      this.overlayDirty = true;
      this.onViewChange = null;
      this._gridPath = null;
      this._gridKey = "";
      this._buildLut();
    }

    // ---- frame sink (called by PagemigProtocol.FrameDecoder) ----
    setGrid(cells, pagesPerCell, aggregated) {
      this.cells = cells;
      this.pagesPerCell = pagesPerCell;
      this.aggregated = !!aggregated;
      this.counts.fill(0);
      this.counts[0] = cells;
      this.tiles.clear();
      this._relayout(true);
    }

    applyCells(states, idx, st) {
      this.states = states;
      const pix = this.pix;
      const lut = this.lut;
      const counts = this.counts;
      const cells = this.cells;
      const n = idx.length;
      if (n === 0) return;
      let lo = this.dirtyMin;
      let hi = this.dirtyMax;
      if (this.layout.kind === "linear") {
        // Pixel index = cell index: no position lookup (one cache miss less per cell).
        for (let i = 0; i < n; i++) {
          const c = idx[i];
          if (c >= cells) continue;
          const s = st[i];
          const o = states[c];
          if (o === s) continue;
          counts[o]--;
          counts[s]++;
          states[c] = s;
          pix[c] = lut[s];
          if (c < lo) lo = c;
          if (c > hi) hi = c;
        }
      } else {
        const pos = this.layout.pos;
        for (let i = 0; i < n; i++) {
          const c = idx[i];
          if (c >= cells) continue;
          const s = st[i];
          const o = states[c];
          if (o === s) continue;
          counts[o]--;
          counts[s]++;
          states[c] = s;
          const p = pos[c];
          pix[p] = lut[s];
          if (p < lo) lo = p;
          if (p > hi) hi = p;
        }
      }
      this.dirtyMin = lo;
      this.dirtyMax = hi;
      this.needsDraw = true;
    }

    applyRange(states, start, src) {
      this.states = states;
      const pos = this.layout.pos;
      const pix = this.pix;
      const lut = this.lut;
      const counts = this.counts;
      const n = src.length;
      let lo = this.dirtyMin;
      let hi = this.dirtyMax;
      for (let i = 0; i < n; i++) {
        const c = start + i;
        const s = src[i];
        const o = states[c];
        if (o === s) continue;
        counts[o]--;
        counts[s]++;
        states[c] = s;
        const p = pos[c];
        pix[p] = lut[s];
        if (p < lo) lo = p;
        if (p > hi) hi = p;
      }
      this.dirtyMin = lo;
      this.dirtyMax = hi;
      this.needsDraw = true;
    }

    applyTile(pfnStart, states) {
      // Keep a few full-resolution regions for deep zoom of an aggregated grid.
      this.tiles.set(pfnStart, states.slice());
      if (this.tiles.size > 16) this.tiles.delete(this.tiles.keys().next().value);
      this.overlayDirty = true;
      this.needsDraw = true;
    }

    // ---- configuration ----
    setLayout(kind) {
      kind = kind === "hilbert" ? "hilbert" : "linear";
      if (kind === this.layoutKind) return;
      this.layoutKind = kind;
      this._relayout(false);
      this.fit();
    }

    setDark(dark) {
      dark = !!dark;
      if (dark === this.dark) return;
      this.dark = dark;
      this.overlayDirty = true;
      this._buildLut();
      this._repaintAll();
    }

    setZones(zones) {
      this.zones = zones || [];
      this._gridKey = "";
      this.overlayDirty = true;
      this.needsDraw = true;
    }

    setScanners(scanners) {
      scanners = scanners || [];
      const key = JSON.stringify(scanners);
      if (key === this._scannerKey) return;
      this._scannerKey = key;
      this.scanners = scanners;
      this.overlayDirty = true;
      this.needsDraw = true;
    }

    colour(code) {
      const s = STATES[code] || UNKNOWN;
      return this.dark ? s.dark : s.light;
    }

    _buildLut() {
      for (let i = 0; i < 256; i++) this.lut[i] = rgba32(this.colour(i));
    }

    _relayout(keepView) {
      const cells = this.cells;
      if (!cells) return;
      this.layout = buildLayout(this.layoutKind, cells);
      const w = this.layout.width;
      const h = this.layout.height;
      if (!this.image || this.image.width !== w || this.image.height !== h) {
        this.gridCanvas.width = w;
        this.gridCanvas.height = h;
        this.gridCanvas.style.width = w + "px";
        this.gridCanvas.style.height = h + "px";
        this.image = this.gridCtx.createImageData(w, h);
        this.pix = new Uint32Array(this.image.data.buffer);
      }
      this._gridKey = "";
      this._repaintAll();
      if (!keepView || this.fitted) this.fit();
    }

    _repaintAll() {
      if (!this.pix) return;
      const pix = this.pix;
      const lut = this.lut;
      const pos = this.layout.pos;
      const states = this.states;
      pix.fill(rgba32(this.dark ? "#101214" : "#ffffff"));
      const n = Math.min(this.cells, states.length);
      for (let c = 0; c < n; c++) pix[pos[c]] = lut[states[c]];
      for (let c = n; c < this.cells; c++) pix[pos[c]] = lut[0];
      this.dirtyMin = 0;
      this.dirtyMax = pix.length - 1;
      this.needsDraw = true;
    }

    // ---- view: scale = screen pixels per cell; (cx, cy) = grid point at the centre ----
    fitScale() {
      if (!this.layout) return 1;
      return Math.min(this.vw / this.layout.width, this.vh / this.layout.height);
    }

    fit() {
      if (!this.layout) return;
      this.scale = this.fitScale();
      this.cx = this.layout.width / 2;
      this.cy = this.layout.height / 2;
      this.fitted = true;
      this.needsDraw = true;
      this._viewChanged();
    }

    setView(v) {
      if (v.layout) this.setLayout(v.layout);
      if (v.scale && isFinite(v.scale)) {
        this.scale = Math.min(MAX_SCALE, Math.max(this.fitScale() / 4, v.scale));
        this.cx = +v.cx || 0;
        this.cy = +v.cy || 0;
        this.fitted = false;
      }
      this.needsDraw = true;
      this._viewChanged();
    }

    view() {
      return { layout: this.layoutKind, scale: +this.scale.toFixed(4), cx: +this.cx.toFixed(2), cy: +this.cy.toFixed(2) };
    }

    zoomBy(f, sx, sy) {
      if (!this.layout) return;
      if (sx === undefined) {
        sx = this.vw / 2;
        sy = this.vh / 2;
      }
      const g = this.screenToGrid(sx, sy);
      const min = Math.min(1, this.fitScale());
      const ns = Math.min(MAX_SCALE, Math.max(min, this.scale * f));
      // Keep the grid point under the cursor where it is.
      this.cx = g[0] - (sx - this.vw / 2) / ns;
      this.cy = g[1] - (sy - this.vh / 2) / ns;
      this.scale = ns;
      this.fitted = false;
      this._clamp();
      this.needsDraw = true;
      this._viewChanged();
    }

    panBy(dx, dy) {
      this.cx -= dx / this.scale;
      this.cy -= dy / this.scale;
      this.fitted = false;
      this._clamp();
      this.needsDraw = true;
      this._viewChanged();
    }

    // Centre the view on a page (and zoom so single pages are visible).
    focusPfn(pfn, scale) {
      const c = Math.floor(pfn / this.pagesPerCell);
      if (!this.layout || c < 0 || c >= this.cells) return;
      const xy = this.layout.xyOf(c);
      this.scale = Math.min(MAX_SCALE, scale || Math.max(this.scale, 16));
      this.cx = xy[0] + 0.5;
      this.cy = xy[1] + 0.5;
      this.fitted = false;
      this.needsDraw = true;
      this._viewChanged();
    }

    _clamp() {
      const w = this.layout.width;
      const h = this.layout.height;
      this.cx = Math.min(w, Math.max(0, this.cx));
      this.cy = Math.min(h, Math.max(0, this.cy));
    }

    _viewChanged() {
      this.viewDirty = true;
      this.overlayDirty = true;
      if (this.layout) this.requestDraw();
      if (this.onViewChange) this.onViewChange(this.view());
    }

    screenToGrid(sx, sy) {
      return [this.cx + (sx - this.vw / 2) / this.scale, this.cy + (sy - this.vh / 2) / this.scale];
    }

    gridToScreen(gx, gy) {
      return [(gx - this.cx) * this.scale + this.vw / 2, (gy - this.cy) * this.scale + this.vh / 2];
    }

    // Cell under a point of the view (CSS pixels from its top left): {cell, pfn, pages,
    // state} or null.
    cellAtScreen(sx, sy) {
      if (!this.layout) return null;
      const g = this.screenToGrid(sx, sy);
      const x = Math.floor(g[0]);
      const y = Math.floor(g[1]);
      if (x < 0 || y < 0 || x >= this.layout.width || y >= this.layout.height) return null;
      const c = this.layout.cellAt(x, y);
      if (c < 0) return null;
      return { cell: c, pfn: c * this.pagesPerCell, pages: this.pagesPerCell, state: this.states[c] };
    }

    screenOfPfn(pfn) {
      const c = Math.floor(pfn / this.pagesPerCell);
      if (!this.layout || c < 0 || c >= this.cells) return null;
      const xy = this.layout.xyOf(c);
      return this.gridToScreen(xy[0] + 0.5, xy[1] + 0.5);
    }

    // Draw on the next animation frame (for changes that come without a frame: hover,
    // selection, zoom while paused).
    requestDraw() {
      this.needsDraw = true;
      if (this._drawQueued) return;
      this._drawQueued = true;
      requestAnimationFrame(() => {
        this._drawQueued = false;
        if (this.needsDraw) this.draw();
      });
    }

    // ---- pointer and wheel: zoom around the cursor, drag to pan, hover and click ----
    // onHover(info|null) and onClick(info|null) get cellAtScreen() results.
    bindPointer(onHover, onClick) {
      const cv = this.canvas;
      const toCanvas = (ev) => {
        const r = cv.getBoundingClientRect();
        return [ev.clientX - r.left, ev.clientY - r.top];
      };
      let drag = null;
      cv.addEventListener(
        "wheel",
        (ev) => {
          ev.preventDefault();
          const p = toCanvas(ev);
          this.zoomBy(Math.pow(1.0015, -ev.deltaY), p[0], p[1]);
        },
        { passive: false }
      );
      cv.addEventListener("pointerdown", (ev) => {
        drag = { x: ev.clientX, y: ev.clientY, moved: false };
        cv.setPointerCapture(ev.pointerId);
      });
      cv.addEventListener("pointermove", (ev) => {
        if (drag && (drag.moved || Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 4)) {
          this.panBy(ev.clientX - drag.x, ev.clientY - drag.y);
          drag.x = ev.clientX;
          drag.y = ev.clientY;
          drag.moved = true;
          return;
        }
        const p = toCanvas(ev);
        const info = this.cellAtScreen(p[0], p[1]);
        const c = info ? info.cell : -1;
        if (c !== this.hoverCell) {
          this.hoverCell = c;
          this.overlayDirty = true;
          this.requestDraw();
          if (onHover) onHover(info);
        }
      });
      cv.addEventListener("pointerup", (ev) => {
        const wasDrag = drag && drag.moved;
        drag = null;
        if (wasDrag) return;
        const p = toCanvas(ev);
        const info = this.cellAtScreen(p[0], p[1]);
        this.selectedCell = info ? info.cell : -1;
        this.overlayDirty = true;
        this.requestDraw();
        if (onClick) onClick(info);
      });
      cv.addEventListener("pointerleave", () => {
        if (this.hoverCell !== -1) {
          this.hoverCell = -1;
          this.overlayDirty = true;
          this.requestDraw();
          if (onHover) onHover(null);
        }
      });
      cv.addEventListener("dblclick", () => this.fit());
    }

    // ---- drawing ----
    // Size of the view in CSS pixels (call when the box is resized).
    resize(w, h) {
      w = Math.max(1, Math.floor(w));
      h = Math.max(1, Math.floor(h));
      this.dpr = window.devicePixelRatio || 1;
      if (this.vw === w && this.vh === h && this.canvas.width === Math.round(w * this.dpr)) return;
      this.vw = w;
      this.vh = h;
      this.canvas.width = Math.round(w * this.dpr);
      this.canvas.height = Math.round(h * this.dpr);
      this.canvas.style.width = w + "px";
      this.canvas.style.height = h + "px";
      if (this.fitted) this.fit();
      this._viewChanged();
      this.needsDraw = true;
    }

    // Push dirty rows of the grid image to the grid canvas: one putImageData.
    flush() {
      if (this.dirtyMax < 0 || !this.image) return;
      const w = this.layout.width;
      const y0 = Math.floor(this.dirtyMin / w);
      const y1 = Math.floor(this.dirtyMax / w);
      this.gridCtx.putImageData(this.image, 0, 0, 0, y0, w, y1 - y0 + 1);
      this.dirtyMin = Infinity;
      this.dirtyMax = -1;
    }

    draw() {
      this.needsDraw = false;
      if (!this.layout || !this.image) return;
      this.flush();
      if (this.viewDirty) {
        this.viewDirty = false;
        const s = this.scale;
        const tx = this.vw / 2 - this.cx * s;
        const ty = this.vh / 2 - this.cy * s;
        this.gridCanvas.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + s + ")";
      }
      if (this.overlayDirty) this.drawOverlay();
    }

    drawOverlay() {
      this.overlayDirty = false;
      const ctx = this.ctx;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      const w = this.layout.width;
      const h = this.layout.height;
      const s = this.scale;
      const ix0 = Math.max(0, Math.floor(this.cx - this.vw / 2 / s));
      const iy0 = Math.max(0, Math.floor(this.cy - this.vh / 2 / s));
      const ix1 = Math.min(w, Math.ceil(this.cx + this.vw / 2 / s));
      const iy1 = Math.min(h, Math.ceil(this.cy + this.vh / 2 / s));
      if (ix1 <= ix0 || iy1 <= iy0) return;
      this._drawTiles(ix0, iy0, ix1, iy1);
      this._drawPageblockGrid(ix0, iy0, ix1, iy1);
      this._drawScanners();
      this._drawMarks();
    }

    // The picture as shown (grid scaled as in the view, overlays on top), for PNG export
    // and recording.
    composite(target) {
      const c = target || document.createElement("canvas");
      if (c.width !== this.canvas.width || c.height !== this.canvas.height) {
        c.width = this.canvas.width;
        c.height = this.canvas.height;
      }
      const ctx = c.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = this.dark ? "#101214" : "#ffffff";
      ctx.fillRect(0, 0, c.width, c.height);
      if (this.layout) {
        this.flush();
        const s = this.scale * this.dpr;
        ctx.imageSmoothingEnabled = false;
        ctx.setTransform(s, 0, 0, s, (this.vw / 2 - this.cx * this.scale) * this.dpr, (this.vh / 2 - this.cy * this.scale) * this.dpr);
        ctx.drawImage(this.gridCanvas, 0, 0);
        ctx.setTransform(1, 0, 0, 1, 0, 0);
      }
      ctx.drawImage(this.canvas, 0, 0);
      return c;
    }

    // Full-resolution pages inside aggregated cells, once zoomed in far enough to see them.
    _drawTiles(ix0, iy0, ix1, iy1) {
      const ppc = this.pagesPerCell;
      if (ppc <= 1 || this.tiles.size === 0 || this.scale < 8) return;
      const side = Math.ceil(Math.sqrt(ppc));
      const sub = this.scale / side;
      const ctx = this.ctx;
      for (const [start, st] of this.tiles) {
        const c0 = Math.floor(start / ppc);
        const c1 = Math.floor((start + st.length - 1) / ppc);
        for (let c = c0; c <= c1 && c < this.cells; c++) {
          const xy = this.layout.xyOf(c);
          if (xy[0] < ix0 || xy[0] >= ix1 || xy[1] < iy0 || xy[1] >= iy1) continue;
          const o = this.gridToScreen(xy[0], xy[1]);
          for (let k = 0; k < ppc; k++) {
            const i = c * ppc + k - start;
            if (i < 0 || i >= st.length) continue;
            ctx.fillStyle = this.colour(st[i]);
            ctx.fillRect(o[0] + (k % side) * sub, o[1] + Math.floor(k / side) * sub, Math.ceil(sub), Math.ceil(sub));
          }
        }
      }
    }

    _pageblockOf(c) {
      return Math.floor((c * this.pagesPerCell) / PAGEBLOCK_PAGES);
    }

    _zoneOf(c) {
      const pfn = c * this.pagesPerCell;
      for (let i = 0; i < this.zones.length; i++) {
        if (pfn >= this.zones[i].start_pfn && pfn < this.zones[i].end_pfn) return i;
      }
      return -1;
    }

    // Pageblock (512 pages) borders, and zone borders in a stronger line. Exact borders are
    // traced cell by cell when zoomed in; zoomed out, a regular lattice stands for them.
    _drawPageblockGrid(ix0, iy0, ix1, iy1) {
      const s = this.scale;
      const ppc = this.pagesPerCell;
      const blockCells = Math.max(1, PAGEBLOCK_PAGES / ppc);
      const ctx = this.ctx;
      const key = [this.layoutKind, s, this.cx, this.cy, this.vw, this.vh, this.cells, ppc, this.zones.length].join();
      if (key !== this._gridKey) {
        this._gridKey = key;
        this._gridPath = null;
        this._zonePath = null;
        this._cellPath = null;
        const visible = (ix1 - ix0) * (iy1 - iy0);
        if (s >= 6 && visible <= 200000) {
          const pb = new Path2D();
          const zp = new Path2D();
          const L = this.layout;
          const row = new Int32Array(ix1 - ix0 + 1);
          const zrow = new Int32Array(ix1 - ix0 + 1);
          let prev = null;
          let zprev = null;
          for (let y = iy0; y < iy1; y++) {
            for (let x = ix0; x < ix1; x++) {
              const c = L.cellAt(x, y);
              row[x - ix0] = c < 0 ? -1 : this._pageblockOf(c);
              zrow[x - ix0] = c < 0 ? -2 : this._zoneOf(c);
            }
            for (let x = ix0; x < ix1; x++) {
              const i = x - ix0;
              if (x + 1 < ix1 && row[i] !== row[i + 1]) {
                const p = this.gridToScreen(x + 1, y);
                const path = zrow[i] !== zrow[i + 1] ? zp : pb;
                path.moveTo(Math.round(p[0]) + 0.5, p[1]);
                path.lineTo(Math.round(p[0]) + 0.5, p[1] + s);
              }
              if (prev && prev[i] !== row[i]) {
                const p = this.gridToScreen(x, y);
                const path = zprev[i] !== zrow[i] ? zp : pb;
                path.moveTo(p[0], Math.round(p[1]) + 0.5);
                path.lineTo(p[0] + s, Math.round(p[1]) + 0.5);
              }
            }
            prev = prev || new Int32Array(row.length);
            zprev = zprev || new Int32Array(row.length);
            prev.set(row);
            zprev.set(zrow);
          }
          this._gridPath = pb;
          this._zonePath = zp;
          // Deep zoom: a faint border around every page, so single pages can be told apart.
          if (s >= 12) {
            const cp = new Path2D();
            for (let x = ix0; x <= ix1; x++) {
              const p = this.gridToScreen(x, iy0);
              const q = this.gridToScreen(x, iy1);
              cp.moveTo(Math.round(p[0]) + 0.5, p[1]);
              cp.lineTo(Math.round(q[0]) + 0.5, q[1]);
            }
            for (let y = iy0; y <= iy1; y++) {
              const p = this.gridToScreen(ix0, y);
              const q = this.gridToScreen(ix1, y);
              cp.moveTo(p[0], Math.round(p[1]) + 0.5);
              cp.lineTo(q[0], Math.round(q[1]) + 0.5);
            }
            this._cellPath = cp;
          }
        } else {
          // Lattice: linear rows hold width/blockCells pageblocks; a Hilbert pageblock of
          // 2^k cells sits in an aligned square of side 2^ceil(k/2).
          const L = this.layout;
          let stepX;
          let stepY;
          if (L.kind === "linear") {
            stepX = Math.min(blockCells, L.width);
            stepY = Math.max(1, blockCells / L.width);
          } else {
            stepX = stepY = Math.pow(2, Math.ceil(Math.log2(blockCells) / 2));
          }
          const pb = new Path2D();
          if (stepX * s >= 6 && stepX < L.width) {
            for (let x = Math.ceil(ix0 / stepX) * stepX; x <= ix1; x += stepX) {
              const p = this.gridToScreen(x, iy0);
              const q = this.gridToScreen(x, iy1);
              pb.moveTo(Math.round(p[0]) + 0.5, p[1]);
              pb.lineTo(Math.round(q[0]) + 0.5, q[1]);
            }
          }
          if (stepY * s >= 6) {
            for (let y = Math.ceil(iy0 / stepY) * stepY; y <= iy1; y += stepY) {
              const p = this.gridToScreen(ix0, y);
              const q = this.gridToScreen(ix1, y);
              pb.moveTo(p[0], Math.round(p[1]) + 0.5);
              pb.lineTo(q[0], Math.round(q[1]) + 0.5);
            }
          }
          this._gridPath = pb;
        }
      }
      ctx.lineWidth = 1;
      if (this._cellPath) {
        ctx.strokeStyle = this.dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.08)";
        ctx.stroke(this._cellPath);
      }
      if (this._gridPath) {
        ctx.strokeStyle = this.dark ? "rgba(255,255,255,0.28)" : "rgba(0,0,0,0.28)";
        ctx.stroke(this._gridPath);
      }
      if (this._zonePath) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = this.dark ? "rgba(255,255,255,0.9)" : "rgba(0,0,0,0.9)";
        ctx.stroke(this._zonePath);
      }
    }

    // The migrate scanner walks up from the zone start, the free scanner down from its end.
    _drawScanners() {
      const ctx = this.ctx;
      const r = Math.max(7, this.scale * 0.9);
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.textBaseline = "middle";
      for (const sc of this.scanners) {
        for (const [pfn, label, colour] of [
          [sc.migrate_pfn, "M", "#d55e00"],
          [sc.free_pfn, "F", "#0072b2"],
        ]) {
          if (pfn === null || pfn === undefined) continue;
          const p = this.screenOfPfn(pfn);
          if (!p) continue;
          ctx.globalAlpha = sc.active === false ? 0.45 : 1;
          ctx.lineWidth = 3;
          ctx.strokeStyle = this.dark ? "#000" : "#fff";
          ctx.beginPath();
          ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
          ctx.stroke();
          ctx.lineWidth = 2;
          ctx.strokeStyle = colour;
          ctx.stroke();
          const tx = p[0] + r + 3;
          const ty = p[1] - r;
          const text = label + (sc.zone ? " " + sc.zone : "");
          const tw = ctx.measureText(text).width;
          ctx.fillStyle = colour;
          ctx.fillRect(tx - 2, ty - 7, tw + 4, 14);
          ctx.fillStyle = "#fff";
          ctx.fillText(text, tx, ty);
        }
      }
      ctx.globalAlpha = 1;
    }

    _drawMarks() {
      const ctx = this.ctx;
      for (const pfn of this.marks) {
        const p = this.screenOfPfn(pfn);
        if (!p) continue;
        const r = Math.min(9, Math.max(5, this.scale * 0.45));
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#d55e00";
        ctx.beginPath();
        ctx.moveTo(p[0], p[1] - r);
        ctx.lineTo(p[0] + r, p[1] + r * 0.8);
        ctx.lineTo(p[0] - r, p[1] + r * 0.8);
        ctx.closePath();
        ctx.stroke();
      }
      for (const [c, colour] of [
        [this.selectedCell, this.dark ? "#ffffff" : "#000000"],
        [this.hoverCell, "#cc79a7"],
      ]) {
        if (c < 0 || c >= this.cells) continue;
        const xy = this.layout.xyOf(c);
        const p = this.gridToScreen(xy[0], xy[1]);
        const sz = Math.max(this.scale, 6);
        const off = (sz - this.scale) / 2;
        ctx.lineWidth = 2;
        ctx.strokeStyle = colour;
        ctx.strokeRect(p[0] - off - 1, p[1] - off - 1, sz + 2, sz + 2);
      }
    }
  }

  window.PagemigHeatmap = { Heatmap, STATES, buildLayout, hilbertD2xy, hilbertXy2d, PAGEBLOCK_PAGES };
})();
