/**
 * require() for ES modules, for two jobs. Loading a CommonJS package or a
 * Node built-in on first use from synchronous code (handlebars for a thing
 * name template, node:crypto for a digest). And the CommonJS packages on the
 * start-up path (serialport, debug), loaded with require() rather than
 * import: Node 22 imports a CommonJS package several times slower than it
 * requires it (it reads each file again to detect its format and find its
 * exports); serialport's binding took 100 ms against 38, a quarter of the
 * way to the first byte (docs/performance.md, "Start-up"). Node 24 takes the
 * same time either way. Types still come from `import type`.
 */
import { createRequire } from "node:module";

export const requireCommonJs = createRequire(import.meta.url);
