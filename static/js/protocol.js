// pagemig streaming protocol: binary frame decoder and a reconnecting WebSocket client.
// The frame layout is documented in docs/protocol.md; keep the two in step.
(function () {
  "use strict";

  const MAGIC = 0x464d4750; // "PGMF" little-endian
  const HEADER = 56;
  const KIND_KEYFRAME = 1;
  const KIND_DELTA = 2;
  const KIND_TILE = 3;
  const FLAG_LAST_CHUNK = 1;
  const FLAG_AGGREGATED = 2;

  function hex(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s.slice(0, 8) + "-" + s.slice(8, 12) + "-" + s.slice(12, 16) + "-" + s.slice(16, 20) + "-" + s.slice(20);
  }

  // The run id only changes when a client switches runs; decode it once per run.
  let lastRunBytes = null;
  let lastRunHex = null;
  function runId(buf) {
    const b = new Uint8Array(buf, 8, 16);
    if (lastRunBytes) {
      let same = true;
      for (let i = 0; i < 16; i++) {
        if (b[i] !== lastRunBytes[i]) {
          same = false;
          break;
        }
      }
      if (same) return lastRunHex;
    }
    lastRunBytes = b.slice();
    lastRunHex = hex(b);
    return lastRunHex;
  }

  function parseHeader(buf) {
    if (buf.byteLength < HEADER) throw new Error("frame shorter than its header: " + buf.byteLength);
    const v = new DataView(buf);
    const magic = v.getUint32(0, true);
    if (magic !== MAGIC) throw new Error("bad frame magic 0x" + magic.toString(16));
    const h = {
      version: v.getUint8(4),
      kind: v.getUint8(5),
      flags: v.getUint16(6, true),
      run: runId(buf),
      seq: v.getUint32(24, true),
      baseSeq: v.getUint32(28, true),
      cells: v.getUint32(32, true),
      pagesPerCell: v.getUint32(36, true),
      count: v.getUint32(40, true),
      offset: v.getUint32(44, true),
      timeNs: Number(v.getBigUint64(48, true)),
    };
    if (h.version !== 1) throw new Error("unsupported frame version " + h.version);
    return h;
  }

  // Page-state grid rebuilt from frames. `states` is the persistent Uint8Array of display
  // states, one per cell. A `sink` (the heatmap) may take over writing cells, so that it
  // updates its pixels and live counts in the same pass instead of rescanning the grid:
  //   sink.setGrid(cells, pagesPerCell, aggregated)      the grid was (re)allocated (all zero)
  //   sink.applyCells(states, indices, newStates)          apply a delta
  //   sink.applyRange(states, start, newStates)            apply a keyframe chunk
  //   sink.applyTile(pfnStart, states)                     full-resolution pages of a region
  class FrameDecoder {
    constructor(sink) {
      this.sink = sink || null;
      this.cells = 0;
      this.pagesPerCell = 1;
      this.aggregated = false;
      this.states = new Uint8Array(0);
      this.seq = -1; // last applied seq; -1 = nothing usable yet
      this.timeNs = 0;
      this.run = null;
      this.kfSeq = -1; // keyframe being assembled
      this.kfCovered = 0;
      this.needKeyframe = true;
      this.framesApplied = 0;
      this.deltasDropped = 0;
    }

    // Apply one binary frame. Returns "applied", "partial", "stale", "gap" or "tile".
    apply(buf) {
      const h = parseHeader(buf);
      this.run = h.run;
      if (h.kind === KIND_KEYFRAME) return this._keyframe(h, buf);
      if (h.kind === KIND_DELTA) return this._delta(h, buf);
      if (h.kind === KIND_TILE) {
        if (this.sink) this.sink.applyTile(h.offset, new Uint8Array(buf, HEADER, h.count));
        return "tile";
      }
      throw new Error("unknown frame kind " + h.kind);
    }

    _resize(h) {
      if (h.cells !== this.cells || h.pagesPerCell !== this.pagesPerCell) {
        this.cells = h.cells;
        this.pagesPerCell = h.pagesPerCell;
        this.aggregated = (h.flags & FLAG_AGGREGATED) !== 0;
        this.states = new Uint8Array(h.cells);
        this.seq = -1;
        if (this.sink) this.sink.setGrid(h.cells, h.pagesPerCell, this.aggregated);
      }
    }

    _keyframe(h, buf) {
      this._resize(h);
      if (h.seq !== this.kfSeq) {
        this.kfSeq = h.seq;
        this.kfCovered = 0;
      }
      if (h.offset + h.count > this.cells) throw new Error("keyframe chunk past the grid");
      const src = new Uint8Array(buf, HEADER, h.count);
      if (this.sink) this.sink.applyRange(this.states, h.offset, src);
      else this.states.set(src, h.offset);
      this.kfCovered += h.count;
      if (h.flags & FLAG_LAST_CHUNK) {
        const complete = this.kfCovered >= this.cells;
        this.kfSeq = -1;
        this.kfCovered = 0;
        if (!complete) {
          // A chunk went missing: the grid is not trustworthy until the next keyframe.
          this.seq = -1;
          this.needKeyframe = true;
          return "gap";
        }
        this.seq = h.seq;
        this.timeNs = h.timeNs;
        this.needKeyframe = false;
        this.framesApplied++;
        return "applied";
      }
      // While a keyframe is being assembled no delta can apply.
      this.seq = -1;
      return "partial";
    }

    _delta(h, buf) {
      if (this.seq < 0 || h.baseSeq !== this.seq || h.cells !== this.cells) {
        if (this.seq >= 0 && h.seq <= this.seq) return "stale";
        this.deltasDropped++;
        if (this.kfSeq < 0) this.needKeyframe = true;
        return "gap";
      }
      const n = h.count;
      if (HEADER + 5 * n > buf.byteLength) throw new Error("delta shorter than its count");
      const idx = new Uint32Array(buf, HEADER, n);
      const st = new Uint8Array(buf, HEADER + 4 * n, n);
      if (this.sink) {
        this.sink.applyCells(this.states, idx, st);
      } else {
        const states = this.states;
        const cells = this.cells;
        for (let i = 0; i < n; i++) {
          const c = idx[i];
          if (c < cells) states[c] = st[i];
        }
      }
      this.seq = h.seq;
      this.timeNs = h.timeNs;
      this.framesApplied++;
      return "applied";
    }
  }

  // Build frames in the browser (for benchmarks and for replaying exported data).
  function encodeFrame(kind, f, payloadBytes) {
    const buf = new ArrayBuffer(HEADER + payloadBytes);
    const v = new DataView(buf);
    v.setUint32(0, MAGIC, true);
    v.setUint8(4, 1);
    v.setUint8(5, kind);
    v.setUint16(6, f.flags || 0, true);
    v.setUint32(24, f.seq, true);
    v.setUint32(28, f.baseSeq === undefined ? f.seq : f.baseSeq, true);
    v.setUint32(32, f.cells, true);
    v.setUint32(36, f.pagesPerCell || 1, true);
    v.setUint32(40, f.count, true);
    v.setUint32(44, f.offset || 0, true);
    v.setBigUint64(48, BigInt(f.timeNs || 0), true);
    return buf;
  }

  function encodeKeyframe(seq, states, timeNs) {
    const buf = encodeFrame(KIND_KEYFRAME, { seq, cells: states.length, count: states.length, flags: FLAG_LAST_CHUNK, timeNs }, states.length);
    new Uint8Array(buf, HEADER).set(states);
    return buf;
  }

  function encodeDelta(seq, baseSeq, cells, indices, states, timeNs) {
    const n = indices.length;
    const buf = encodeFrame(KIND_DELTA, { seq, baseSeq, cells, count: n, timeNs }, 5 * n);
    new Uint32Array(buf, HEADER, n).set(indices);
    new Uint8Array(buf, HEADER + 4 * n, n).set(states);
    return buf;
  }

  // Reconnecting WebSocket client. It applies frames to a FrameDecoder, asks the page to
  // render once per animation frame, acks the last rendered seq after the render, asks for
  // a keyframe on a gap, and reconnects with backoff when the socket drops.
  //
  // Page flags for tests: window.wsConnected, window.pagemigFrames (frames rendered),
  // window.pagemigSeq (seq on screen), document.body.dataset.conn (indicator state).
  class StreamClient {
    constructor(url, opts) {
      this.url = url;
      this.opts = opts || {};
      this.decoder = new FrameDecoder(this.opts.sink);
      this.ws = null;
      this.state = "idle";
      this.backoff = 250;
      this.closedByUs = false;
      this.renderPending = false;
      this.renderedSeq = -1;
      this.lastKeyframeAsk = 0;
      this.reconnects = 0;
      this.subscribeExtra = null; // extra fields for the subscribe op (e.g. replay position)
      // Frames of an earlier subscription can still be in flight after a new subscribe;
      // they are dropped until the server confirms with "subscribed".
      this.awaitingSubscribed = false;
      // Hold: once the frame `holdSeq` is on screen, later frames wait in `held` (and are
      // not acked, so the server stops after its window) until release().
      this.holdSeq = null;
      this.held = [];
      this.onJson = this.opts.onJson || null;
      this.onRender = this.opts.onRender || null;
      this.onState = this.opts.onState || null;
      window.wsConnected = false;
      window.pagemigFrames = window.pagemigFrames || 0;
    }

    connect() {
      this.closedByUs = false;
      this._setState(this.reconnects ? "reconnecting" : "connecting");
      const ws = new WebSocket(this.url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      ws.onopen = () => {
        if (ws !== this.ws) return;
        this.backoff = 250;
        window.wsConnected = true;
        this._setState("live");
        this.subscribe(this.subscribeExtra);
      };
      ws.onmessage = (ev) => {
        if (ws !== this.ws) return;
        if (typeof ev.data === "string") {
          let msg;
          try {
            msg = JSON.parse(ev.data);
          } catch (e) {
            console.warn("pagemig: unparsable text frame", e);
            return;
          }
          if (msg.type === "subscribed") {
            this.awaitingSubscribed = false;
            this.held = [];
          }
          if (this.onJson) this.onJson(msg);
          return;
        }
        this._binary(ev.data);
      };
      ws.onclose = (ev) => {
        if (ws !== this.ws) return;
        window.wsConnected = false;
        this.ws = null;
        if (this.closedByUs || ev.code === 4403 || ev.code === 4404 || ev.code === 4401) {
          this._setState(this.closedByUs ? "closed" : "refused");
          return;
        }
        this._setState("reconnecting");
        this.reconnects++;
        const wait = Math.min(this.backoff, 5000) * (0.75 + Math.random() * 0.5);
        this.backoff = Math.min(this.backoff * 2, 5000);
        setTimeout(() => {
          if (!this.closedByUs) this.connect();
        }, wait);
      };
      ws.onerror = () => {
        // onclose follows; the reconnect happens there.
      };
    }

    // (Re)subscribe: live when extra is empty, a replay from extra.from_seq otherwise.
    subscribe(extra) {
      this.subscribeExtra = extra || null;
      this.held = [];
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      this.awaitingSubscribed = true;
      this.decoder.seq = -1;
      this.renderedSeq = -1;
      return this.send(Object.assign({ op: "subscribe" }, extra || {}));
    }

    hold(seq) {
      this.holdSeq = seq;
    }

    release() {
      this.holdSeq = null;
      const q = this.held;
      this.held = [];
      for (const buf of q) this._binary(buf);
    }

    close() {
      this.closedByUs = true;
      if (this.ws) this.ws.close(1000);
    }

    // For tests and the "drop" button in the debug panel: close the socket as if the
    // network had failed; the client reconnects by itself.
    drop() {
      if (this.ws) this.ws.close(4000, "dropped by client");
    }

    send(obj) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(obj));
        return true;
      }
      return false;
    }

    _setState(s) {
      this.state = s;
      if (document.body) document.body.dataset.conn = s;
      if (this.onState) this.onState(s);
    }

    _binary(buf) {
      if (this.awaitingSubscribed) return;
      if (this.holdSeq !== null && this.decoder.seq >= this.holdSeq) {
        if (this.held.length < 64) this.held.push(buf);
        return;
      }
      let r;
      try {
        r = this.decoder.apply(buf);
      } catch (e) {
        console.warn("pagemig: bad frame", e.message);
        return;
      }
      if (r === "gap") this.askKeyframe();
      if (r === "applied" || r === "tile") this._scheduleRender();
    }

    askKeyframe() {
      const now = performance.now();
      if (now - this.lastKeyframeAsk < 500) return;
      this.lastKeyframeAsk = now;
      this.send({ op: "keyframe" });
    }

    _scheduleRender() {
      if (this.renderPending) return;
      this.renderPending = true;
      requestAnimationFrame(() => {
        this.renderPending = false;
        const seq = this.decoder.seq;
        const fresh = seq >= 0 && seq !== this.renderedSeq;
        if (fresh) {
          this.renderedSeq = seq;
          window.pagemigSeq = seq;
          window.pagemigFrames = (window.pagemigFrames || 0) + 1;
          // Milliseconds from this page's navigation to its first drawn frame.
          if (window.pagemigFirstFrameAt === undefined) window.pagemigFirstFrameAt = performance.now();
        }
        if (this.onRender) this.onRender(this.decoder);
        // Ack after the render: the server's flow control counts frames on screen.
        if (fresh) this.send({ op: "ack", seq: seq });
      });
    }
  }

  window.PagemigProtocol = {
    HEADER,
    MAGIC,
    KIND_KEYFRAME,
    KIND_DELTA,
    KIND_TILE,
    FLAG_LAST_CHUNK,
    FLAG_AGGREGATED,
    parseHeader,
    FrameDecoder,
    StreamClient,
    encodeKeyframe,
    encodeDelta,
  };
})();
