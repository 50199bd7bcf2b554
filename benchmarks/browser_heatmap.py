"""Browser benchmark of the heatmap, in Debian's headless Chromium driven by Playwright.

Reports, in one run on this machine:

* time to apply one frame and draw it at 1,048,576 and 4,194,304 pages, as a ratio to a
  bare ``putImageData`` of the same canvas size measured in the same page (target: at most
  2x, and at most 16 ms a frame at 1,048,576 pages);
* with ``--site URL`` (or ``--site start`` to start one here): time from opening a run
  page to its first drawn frame, and the tab's JS heap sampled over one long run
  (``--soak SECONDS``, 600 by default; it must stay flat).

The frame figures come from the static files alone, served from a local HTTP server.
Usage::

    .venv/bin/python benchmarks/browser_heatmap.py
    .venv/bin/python benchmarks/browser_heatmap.py --site start --soak 600
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BENCH_PAGE = b"""<!doctype html><meta charset=utf-8><title>heatmap bench</title>
<body style="margin:0"><canvas id=bare></canvas><div id=heat style="width:1280px;height:800px"></div>
<script src="/static/js/protocol.js"></script><script src="/static/js/heatmap.js"></script>
</body>"""

# Runs in the page. For each size: a keyframe with a plausible memory picture (runs of
# each state), then deltas of `changed` cells scattered over the grid (the worst case for
# the dirty-row tracking: every row is dirty), each applied through the frame decoder and
# drawn; against a bare putImageData of an ImageData of the same size onto a canvas of the
# same size. A 1-pixel getImageData after each call makes the raster work finish inside
# the timed span for both. performance.now() is coarse (100 us) in a page that is not
# cross-origin isolated, so each figure is a batch of `reps` frames timed together, and
# the two alternate batch by batch (medians of `rounds`) so both see the same load on a
# shared machine.
FRAME_JS = """
async ([pages, changed, reps, rounds]) => {
  const P = window.PagemigProtocol, H = window.PagemigHeatmap;
  const L = H.buildLayout("linear", pages);
  const W = L.width, Hh = L.height;
  const bare = document.getElementById("bare");
  bare.width = W; bare.height = Hh;
  const bctx = bare.getContext("2d", {alpha: false});
  const img = bctx.createImageData(W, Hh);
  const px = new Uint32Array(img.data.buffer);
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  for (let i = 0; i < px.length; i++) px[i] = 0xff000000 | (rnd() * 0xffffff);
  const time = (fn) => { const t = performance.now(); fn(); return performance.now() - t; };
  const flips = [];
  for (let r = 0; r < reps; r++) flips.push((rnd() * px.length) | 0);
  const bareBatch = () => {
    for (let r = 0; r < reps; r++) { px[flips[r]] ^= 0xffffff; bctx.putImageData(img, 0, 0); bctx.getImageData(0, 0, 1, 1); }
  };

  const box = document.getElementById("heat");
  box.textContent = "";
  const hm = new H.Heatmap(box, {layout: "linear"});
  hm.resize(box.clientWidth, box.clientHeight);
  const canvas = hm.gridCanvas;
  const dec = new P.FrameDecoder(hm);
  const states = new Uint8Array(pages);
  for (let i = 0; i < pages; ) {
    const run = 1 + ((rnd() * 2048) | 0), s = (rnd() * 11) | 0;
    states.fill(s, i, Math.min(pages, i + run)); i += run;
  }
  let seq = 1;
  const kf = P.encodeKeyframe(seq, states, 0);
  const kfFirstT = time(() => { dec.apply(kf); hm.draw(); canvas.getContext("2d").getImageData(0, 0, 1, 1); });
  // A later keyframe on the same grid (the layout already built): the healing cost.
  for (let i = 0; i < pages; i += 997) states[i] = (states[i] + 1) % 13;
  seq++;
  const kf2 = P.encodeKeyframe(seq, states, 0);
  const kfT = time(() => { dec.apply(kf2); hm.draw(); canvas.getContext("2d").getImageData(0, 0, 1, 1); });
  // Deltas of `changed` cells scattered over the whole grid, built beforehand so that
  // only decoding, applying and drawing are timed.
  const deltas = [];
  for (let r = 0; r < (rounds + 1) * reps; r++) {
    const idx = new Uint32Array(changed), st = new Uint8Array(changed);
    for (let i = 0; i < changed; i++) { idx[i] = (rnd() * pages) | 0; st[i] = (rnd() * 13) | 0; }
    idx.sort();
    deltas.push(P.encodeDelta(seq + r + 1, seq + r, pages, idx, st, r));
  }
  const ctx = hm.gridCtx;
  let k = 0;
  const oursBatch = () => {
    for (let r = 0; r < reps; r++) {
      if (dec.apply(deltas[k++]) !== "applied") throw new Error("delta refused");
      hm.draw(); ctx.getImageData(0, 0, 1, 1);
    }
  };
  // Warm both up, then alternate batches so that both see the same machine load.
  bareBatch(); oursBatch();
  const bareT = [], frameT = [];
  for (let i = 0; i < rounds; i++) {
    bareT.push(time(bareBatch) / reps);
    frameT.push(time(oursBatch) / reps);
  }
  await new Promise((r) => requestAnimationFrame(() => r()));
  hm.image = null; hm.pix = null; bare.width = bare.height = 1;
  return {pages, width: W, height: Hh, changed, bare: bareT, frame: frameT, keyframe: kfT, keyframeFirst: kfFirstT};
}
"""


def median(xs):
    return statistics.median(xs)


def serve_static():
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path in ("/", "/bench.html"):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(BENCH_PAGE)))
                self.end_headers()
                self.wfile.write(BENCH_PAGE)
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def frame_bench(browser, base, sizes, changes, reps, rounds):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/bench.html")
    out = []
    for pages, changed in [(p, c) for p in sizes for c in changes]:
        r = page.evaluate(FRAME_JS, [pages, changed, reps, rounds])
        bare = median(r["bare"])
        frame = median(r["frame"])
        out.append(
            {
                "pages": pages,
                "canvas": f"{r['width']}x{r['height']}",
                "changed_per_frame": changed,
                "bare_putimagedata_ms": round(bare, 2),
                "apply_and_draw_ms": round(frame, 2),
                "apply_and_draw_worst_batch_ms": round(max(r["frame"]), 2),
                "ratio": round(frame / bare, 2),
                "keyframe_apply_and_draw_ms": round(r["keyframe"], 2),
                "first_keyframe_with_layout_ms": round(r["keyframeFirst"], 2),
            }
        )
    if errors:
        raise SystemExit("page errors: " + "; ".join(errors))
    page.close()
    return out


def site_bench(browser, site, presets, soak, sample_every):
    """On a running site: time from opening a run page to its first drawn frame (runs
    started from presets in one click on Home), then one long run watched for `soak`
    seconds with the tab's JS heap sampled after a forced GC."""
    sys.path.insert(0, str(ROOT))
    from tests.browserkit import long_scenario

    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    page = ctx.new_page()
    page.goto(site + "/")
    if page.locator("#local-user").count():
        page.click("#local-user")
    first = []
    for preset in presets:
        page.goto(site + "/")
        t0 = time.perf_counter()
        page.click(f"form.start-preset[data-preset='{preset}'] button")
        page.wait_for_url("**/runs/**")
        page.wait_for_function("() => window.pagemigFirstFrameAt !== undefined", timeout=60_000)
        click_to_frame = (time.perf_counter() - t0) * 1000
        nav_to_frame = page.evaluate("() => window.pagemigFirstFrameAt")
        first.append(
            {
                "preset": preset,
                "open_to_first_frame_ms": round(nav_to_frame),
                "click_to_first_frame_ms": round(click_to_frame),
            }
        )
        page.evaluate(
            "async () => { const id = location.pathname.split('/')[2];"
            " await window.Pagemig.api('/api/v1/runs/' + id + '/cancel', 'POST', {}); }"
        )

    # The long run: a busy scenario paced so that it lasts the whole soak.
    import simulator

    scenario = long_scenario(cycles=230, eagain_rate=0.02)
    sim = simulator.Simulation(simulator.Scenario.from_dict(scenario), seed=1, profile="v6.18")
    frames = 0
    while not sim.done:
        sim.step(1)
        frames += 1
    fps = max(0.5, min(30.0, frames / soak))
    page.goto(site + "/")
    made = page.evaluate(
        "async (body) => (await window.Pagemig.api('/api/v1/runs/', 'POST', body)).data",
        {"scenario": scenario, "seed": 1, "fps": fps, "title": "heap soak"},
    )
    page.goto(site + made["url"])
    page.wait_for_function("() => window.pagemigFrames > 0", timeout=60_000)
    cdp = ctx.new_cdp_session(page)
    samples = []
    start = time.monotonic()
    while True:
        cdp.send("HeapProfiler.collectGarbage")
        heap = cdp.send("Runtime.getHeapUsage")
        state = page.evaluate(
            "() => [window.pagemigFrames, window.pagemigStatus, document.querySelectorAll('*').length]"
        )
        samples.append(
            {
                "t_s": round(time.monotonic() - start),
                "heap_mb": round(heap["usedSize"] / 2**20, 2),
                "frames": state[0],
                "dom_nodes": state[2],
            }
        )
        if time.monotonic() - start >= soak or state[1] not in ("running", "queued"):
            break
        page.wait_for_timeout(sample_every * 1000)
    ctx.close()
    heaps = [x["heap_mb"] for x in samples]
    half = max(1, len(heaps) // 2)
    return {
        "first_frame": first,
        "soak_seconds": round(time.monotonic() - start),
        "soak_fps": round(fps, 2),
        "soak_frames_drawn": samples[-1]["frames"],
        "heap_first_half_max_mb": max(heaps[:half]),
        "heap_second_half_max_mb": max(heaps[half:] or heaps),
        "heap_samples": samples,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1048576,4194304")
    ap.add_argument(
        "--changed",
        default="256,4096",
        help="cells changed per delta, scattered uniformly (the engine changes tens to a few"
        " hundred pages a step; 4096 scattered is a heavy frame)",
    )
    ap.add_argument("--reps", type=int, default=20, help="frames per timed batch")
    ap.add_argument("--rounds", type=int, default=15, help="alternating timed batches")
    ap.add_argument("--site", help="base URL of a running pagemig site ('start' runs one here)")
    ap.add_argument("--presets", default="lru_only,direct_compaction,balloon_inflation")
    ap.add_argument("--soak", type=int, default=600, help="seconds to watch the heap")
    ap.add_argument("--sample-every", type=int, default=30)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    server = serve_static()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            sizes = [int(s) for s in args.sizes.split(",")]
            changes = [int(c) for c in args.changed.split(",")]
            results["frames"] = frame_bench(browser, base, sizes, changes, args.reps, args.rounds)
            for r in results["frames"]:
                print(
                    f"{r['pages']:>9} pages ({r['canvas']}), {r['changed_per_frame']} cells changed:"
                    f" apply+draw {r['apply_and_draw_ms']} ms"
                    f" (worst batch {r['apply_and_draw_worst_batch_ms']}), bare putImageData"
                    f" {r['bare_putimagedata_ms']} ms, ratio {r['ratio']}x; keyframe apply+draw"
                    f" {r['keyframe_apply_and_draw_ms']} ms (first, with layout:"
                    f" {r['first_keyframe_with_layout_ms']} ms)"
                )
            if args.site:
                live = None
                if args.site == "start":
                    sys.path.insert(0, str(ROOT))
                    from tests.browserkit import LiveSite

                    live = LiveSite().start()
                    args.site = live.url
                try:
                    s = site_bench(
                        browser, args.site, args.presets.split(","), args.soak, args.sample_every
                    )
                finally:
                    if live:
                        live.stop()
                results["site"] = s
                for f in s["first_frame"]:
                    print(
                        f"{f['preset']}: run page open -> first drawn frame {f['open_to_first_frame_ms']} ms"
                        f" (click on Home -> first frame {f['click_to_first_frame_ms']} ms)"
                    )
                print(
                    f"JS heap over {s['soak_seconds']} s ({s['soak_frames_drawn']} frames drawn at"
                    f" {s['soak_fps']} fps): first half max {s['heap_first_half_max_mb']} MB,"
                    f" second half max {s['heap_second_half_max_mb']} MB"
                )
                print(
                    "heap samples (s: MB): "
                    + ", ".join(f"{x['t_s']}: {x['heap_mb']}" for x in s["heap_samples"])
                )
        finally:
            browser.close()
            server.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
