import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Twins, brokers and ptys are real processes: two cores cannot run many files at once.
    maxWorkers: 2,
    // Node 20 is supported by the SDK releases we pin; its notice would only clutter test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
