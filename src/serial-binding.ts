/**
 * serialport's native binding for this OS, as `autoDetect()` picks it, for
 * the transport (opening a port) and the port list. On Linux the Linux half
 * is required by its own file: the package's main module also loads the
 * macOS and Windows halves and their helpers, ~4 ms of a start that writes
 * its first byte in ~70 (docs/performance.md, "Start-up"). The version is
 * pinned in package.json, and src/serial-binding.test.ts checks that the
 * two ways give the same binding.
 */
import type * as Bindings from "@serialport/bindings-cpp";
import { requireCommonJs } from "./require-commonjs.js";

export type SerialBinding = ReturnType<typeof Bindings.autoDetect>;

/** The file of @serialport/bindings-cpp that holds the Linux binding. */
export const LINUX_BINDING_MODULE = "@serialport/bindings-cpp/dist/linux.js";

export function serialBinding(): SerialBinding {
  if (process.platform === "linux")
    return (requireCommonJs(LINUX_BINDING_MODULE) as typeof Bindings).LinuxBinding;
  return (requireCommonJs("@serialport/bindings-cpp") as typeof Bindings).autoDetect();
}
