#!/usr/bin/env node
// The tool ships as TypeScript run through tsx's loader, so `npx provision`
// works from a fresh clone without a build step.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
