import type * as Bindings from "@serialport/bindings-cpp";
import { describe, expect, it } from "vitest";
import { requireCommonJs } from "./require-commonjs.js";
import { LINUX_BINDING_MODULE, serialBinding } from "./serial-binding.js";

describe("serialBinding", () => {
  it("is the binding serialport's autoDetect() picks for this OS", () => {
    const { autoDetect } = requireCommonJs("@serialport/bindings-cpp") as typeof Bindings;
    expect(serialBinding()).toBe(autoDetect());
  });

  it.runIf(process.platform === "linux")(
    "on Linux comes from the one file, not the package's main module",
    () => {
      // Same module instance as the package's main module re-exports: the file path is the one it requires.
      const main = requireCommonJs.resolve("@serialport/bindings-cpp");
      expect(requireCommonJs.resolve(LINUX_BINDING_MODULE)).toBe(main.replace(/index\.js$/, "linux.js"));
      expect(typeof serialBinding().open).toBe("function");
    },
  );
});
