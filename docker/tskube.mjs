// Entrypoint of the tskube image: one image for every component, the first argument picks which
// (`tskube apiserver --etcd-servers …`), so compose services differ only in their command.
import { readFileSync } from "node:fs";

const components = JSON.parse(readFileSync(new URL("./components.json", import.meta.url), "utf8"));
const [component] = process.argv.slice(2);

if (!component || component === "-h" || component === "--help" || !components.includes(component)) {
  const problem = component && !component.startsWith("-") ? `unknown component "${component}"\n` : "";
  process.stderr.write(`${problem}usage: tskube <component> [flags]\ncomponents: ${components.join(", ")}\n`);
  process.exit(component === "-h" || component === "--help" ? 0 : 2);
}

// Components parse process.argv.slice(2) as their own flags, as when started directly.
process.argv.splice(2, 1);
await import(`./${component}.mjs`);
