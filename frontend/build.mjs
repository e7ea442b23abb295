// Copies the vendored browser libraries and our small app.js into static/dist/ (committed).
// Run through `npm run build` (which builds app.css first with the Tailwind CLI).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "static", "dist");

const files = {
  "htmx.min.js": require.resolve("htmx.org/dist/htmx.min.js"),
  "alpine.min.js": require.resolve("alpinejs/dist/cdn.min.js"),
  "lucide.min.js": require.resolve("lucide/dist/umd/lucide.min.js"),
  // charts of the dashboard (loaded only on the pages that draw them)
  "chart.umd.min.js": join(root, "node_modules", "chart.js", "dist", "chart.umd.min.js"),
  "fonts/inter-latin-wght-normal.woff2": join(
    root, "node_modules", "@fontsource-variable", "inter", "files", "inter-latin-wght-normal.woff2",
  ),
  "app.js": join(root, "frontend", "app.js"),
};

for (const [name, source] of Object.entries(files)) {
  const target = join(dist, name);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  console.log(`static/dist/${name}`);
}
