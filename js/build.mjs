// Bundles each widget's front end into saewidgets/static/ (one ES module + one CSS per widget).
import { readdirSync } from "node:fs";
import * as esbuild from "esbuild";

const widgets = readdirSync("src")
  .filter((f) => f.endsWith(".js"))
  .map((f) => f.slice(0, -3));
await esbuild.build({
  entryPoints: widgets.flatMap((w) => [`src/${w}.js`, `src/${w}.css`]),
  bundle: true,
  format: "esm",
  minify: !process.env.SAEW_DEV,
  sourcemap: process.env.SAEW_DEV ? "inline" : false,
  target: "es2020",
  outdir: "../saewidgets/static",
  // Bundled UMD code must not register itself with a require.js page (anywidget#369).
  define: { "define.amd": "false" },
  logLevel: "warning",
});
console.log(`built ${widgets.join(", ")} into saewidgets/static`);
