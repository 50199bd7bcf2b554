// Writes a scenario (plain JSON data) as TOML for the editor. Parsing TOML is left to
// the server (the engine's own reader), so the text the user edits is read exactly as
// `Scenario.from_toml` reads it.
(function () {
  "use strict";

  function key(k) {
    return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
  }

  function scalar(v) {
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") {
      if (!isFinite(v)) throw new Error("TOML cannot hold " + v);
      return String(v);
    }
    if (Array.isArray(v)) return "[" + v.filter((x) => x !== null && x !== undefined).map(scalar).join(", ") + "]";
    throw new Error("not a TOML scalar: " + JSON.stringify(v));
  }

  const isTable = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const isTableArray = (v) => Array.isArray(v) && v.length > 0 && v.every(isTable);

  function table(obj, path, out, header) {
    const simple = [];
    const nested = [];
    for (const [k, v] of Object.entries(obj)) {
      if (v === null || v === undefined) continue;
      if (isTable(v) || isTableArray(v)) nested.push([k, v]);
      else simple.push([k, v]);
    }
    if (header) out.push(header);
    for (const [k, v] of simple) out.push(key(k) + " = " + scalar(v));
    for (const [k, v] of nested) {
      const p = path.concat([key(k)]).join(".");
      if (isTable(v)) {
        out.push("");
        table(v, path.concat([key(k)]), out, "[" + p + "]");
      } else {
        for (const item of v) {
          out.push("");
          table(item, path.concat([key(k)]), out, "[[" + p + "]]");
        }
      }
    }
  }

  function stringify(obj) {
    const out = [];
    table(obj, [], out, null);
    return out.join("\n").replace(/^\n+/, "") + "\n";
  }

  window.PagemigToml = { stringify };
})();
