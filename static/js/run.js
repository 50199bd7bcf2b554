// pagemig minimal run page: start a run, stream its frames (docs/protocol.md), draw them.
(function () {
  "use strict";

  var HEADER = 56, MAGIC = 0x464d4750, KEYFRAME = 1, DELTA = 2, LAST_CHUNK = 1;
  // Display state code -> colour (0xAABBGGRR for a little-endian Uint32 pixel view).
  var PALETTE = [0xffeeeeee, 0xffdddddd, 0xff4caf50, 0xff8bc34a, 0xffff9800, 0xff3f51b5,
    0xff9c27b0, 0xff000000, 0xff607d8b, 0xff795548, 0xffffffff, 0xff0000ff, 0xff00ffff];
  var colours = new Uint32Array(256);
  for (var i = 0; i < 256; i++) colours[i] = PALETTE[i] || 0xffff00ff;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- Start form on the index page ---------------------------------------------
  var form = document.getElementById("start-run");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {
        preset: form.elements.preset.value,
        seed: parseInt(form.elements.seed.value, 10),
        profile: form.elements.profile.value,
      };
      fetch(form.dataset.api, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
        credentials: "same-origin",
      }).then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      }).then(function (res) {
        if (res.ok) {
          window.location = res.data.url;
        } else {
          document.getElementById("start-errors").textContent = (res.data.errors || [])
            .map(function (e) { return (e.field ? e.field + ": " : "") + e.message; }).join("; ");
        }
      });
    });
  }

  // --- Live view ------------------------------------------------------------------
  var view = document.getElementById("run-view");
  if (!view) return;
  var canvas = document.getElementById("heatmap");
  var ctx = canvas.getContext("2d");
  var statusEl = document.getElementById("run-status");
  var seqEl = document.getElementById("frame-seq");
  var countEl = document.getElementById("frame-count");
  var logEl = document.getElementById("run-log");
  var cells = null, image = null, pixels = null, side = 0;
  var lastSeq = null, pendingKey = null, dirty = false, received = 0, retry = 500, socket = null;
  window.pagemig = { frames: 0, connected: false, lastSeq: null, status: statusEl.textContent };

  function log(text) {
    logEl.textContent = (text + "\n" + logEl.textContent).slice(0, 4000);
  }

  function ensureGrid(n) {
    if (cells && cells.length === n) return;
    cells = new Uint8Array(n);
    side = Math.ceil(Math.sqrt(n));
    canvas.width = side; canvas.height = side;
    image = ctx.createImageData(side, side);
    pixels = new Uint32Array(image.data.buffer);
  }

  function onFrame(buf) {
    var dv = new DataView(buf);
    if (buf.byteLength < HEADER || dv.getUint32(0, true) !== MAGIC) return;
    var kind = dv.getUint8(5), flags = dv.getUint16(6, true);
    var seq = dv.getUint32(24, true), base = dv.getUint32(28, true);
    var n = dv.getUint32(32, true), count = dv.getUint32(40, true), offset = dv.getUint32(44, true);
    if (kind === KEYFRAME) {
      ensureGrid(n);
      if (offset === 0) pendingKey = seq;
      if (pendingKey !== seq) return;
      cells.set(new Uint8Array(buf, HEADER, count), offset);
      if (flags & LAST_CHUNK) { lastSeq = seq; pendingKey = null; applied(seq); }
    } else if (kind === DELTA) {
      if (lastSeq === null || base !== lastSeq) return; // wait for a keyframe
      var idx = new Uint32Array(buf, HEADER, count);
      var states = new Uint8Array(buf, HEADER + 4 * count, count);
      for (var k = 0; k < count; k++) cells[idx[k]] = states[k];
      lastSeq = seq;
      applied(seq);
    }
  }

  function applied(seq) {
    received++;
    window.pagemig.frames = received;
    window.pagemig.lastSeq = seq;
    dirty = true;
    send({ op: "ack", seq: seq });
  }

  function draw() {
    if (dirty && cells) {
      for (var k = 0; k < cells.length; k++) pixels[k] = colours[cells[k]];
      ctx.putImageData(image, 0, 0);
      seqEl.textContent = lastSeq;
      countEl.textContent = received;
      dirty = false;
    }
    window.requestAnimationFrame(draw);
  }
  window.requestAnimationFrame(draw);

  function send(msg) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(msg));
  }

  function onJson(msg) {
    if (msg.type === "status" || msg.type === "hello" || msg.type === "subscribed") {
      if (msg.status) { statusEl.textContent = msg.status; window.pagemig.status = msg.status; }
    }
    if (msg.type === "error") log("error: " + (msg.field ? msg.field + ": " : "") + msg.message);
    if (msg.type === "status" || msg.type === "error" || msg.type === "replay_end") log(JSON.stringify(msg));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + view.dataset.ws);
    socket.binaryType = "arraybuffer";
    socket.onopen = function () {
      retry = 500;
      window.pagemig.connected = true;
      // Reconnecting: the server sends a keyframe, then deltas continue from it.
      send({ op: "subscribe" });
    };
    socket.onmessage = function (ev) {
      if (typeof ev.data === "string") onJson(JSON.parse(ev.data));
      else onFrame(ev.data);
    };
    socket.onclose = function () {
      window.pagemig.connected = false;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();

  view.querySelectorAll("button[data-op]").forEach(function (button) {
    button.addEventListener("click", function () { send({ op: button.dataset.op }); });
  });
})();
