// Exports that happen in the browser: the heatmap as PNG (Heatmap.composite) and an
// animation of the run as WebM, recorded with MediaRecorder from a canvas that copies
// the view (grid, overlays and a caption) on every drawn frame.
(function () {
  "use strict";

  function recorder(heatmap, position) {
    let rec = null;
    let canvas = null;
    let chunks = [];
    let name = "run";
    let button = null;

    function caption(ctx) {
      const p = position();
      const text = "frame " + Math.max(0, p.seq) + " · " + window.PagemigCharts.fmtMs(p.timeNs / 1e6);
      ctx.font = "bold 14px system-ui, sans-serif";
      const w = ctx.measureText(text).width;
      ctx.fillStyle = "rgba(0,0,0,0.6)";
      ctx.fillRect(6, 6, w + 12, 22);
      ctx.fillStyle = "#fff";
      ctx.textBaseline = "middle";
      ctx.fillText(text, 12, 17);
    }

    function frame() {
      if (!rec) return;
      heatmap.composite(canvas);
      caption(canvas.getContext("2d"));
    }

    function start(base) {
      if (!window.MediaRecorder || !HTMLCanvasElement.prototype.captureStream) {
        window.Pagemig.toast("This browser cannot record video");
        return;
      }
      name = base;
      canvas = document.createElement("canvas");
      heatmap.composite(canvas);
      const stream = canvas.captureStream(30);
      const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"].find((t) => MediaRecorder.isTypeSupported(t));
      rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      chunks = [];
      rec.ondataavailable = (ev) => ev.data.size && chunks.push(ev.data);
      rec.onstop = () => {
        const blob = new Blob(chunks, { type: "video/webm" });
        window.pagemigLastExport = { kind: "webm", size: blob.size };
        window.Pagemig.download(name + ".webm", blob);
        chunks = [];
      };
      rec.start(1000);
      frame();
      button = document.getElementById("recording");
      if (!button) {
        button = document.createElement("button");
        button.id = "recording";
        button.type = "button";
        button.className = "danger";
        button.addEventListener("click", stop);
        document.getElementById("share-export").appendChild(button);
      }
      button.textContent = "● Stop recording";
      button.hidden = false;
      window.Pagemig.toast("Recording: play or watch the run, then stop");
    }

    function stop() {
      if (!rec) return;
      rec.stop();
      rec = null;
      if (button) button.hidden = true;
    }

    return {
      frame,
      start,
      stop,
      toggle(base) {
        if (rec) stop();
        else start(base);
      },
      get recording() {
        return !!rec;
      },
    };
  }

  window.PagemigExport = { recorder };
})();
