// The state modules are pure: no module they import (directly or not) touches the DOM, so they
// run here, in node, with no document.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../src");
const DOM = /\b(document|window|HTMLElement|Node|requestAnimationFrame)\b/;

function imports(file) {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^import [^;]*? from "(\.[^"]+)";/gms)].map((m) =>
    resolve(dirname(file), m[1]),
  );
}

function closure(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const dep of imports(file)) closure(dep, seen);
  return seen;
}

const views = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory() && d !== "lib");
const pure = [
  ...views.map((v) => join(SRC, v, "state.js")),
  ...[
    "buffers",
    "csr",
    "probe",
    "format",
    "colors",
    "featurestate",
    "placement",
    "axes",
    "search",
  ].map((m) => join(SRC, "lib", `${m}.js`)),
];

test("every view has a state module", () => {
  assert.deepEqual(views.sort(), ["browser", "dashboard", "graphview", "heatmap", "steering"]);
});

for (const file of pure) {
  test(`${file.slice(SRC.length + 1)} and its imports use no DOM`, () => {
    for (const dep of closure(file)) {
      const code = readFileSync(dep, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
      assert.doesNotMatch(code, DOM, `${dep.slice(SRC.length + 1)} touches the DOM`);
    }
  });
}
