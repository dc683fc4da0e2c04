import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Tests spawn bin/provision.js, which runs dist/: rebuilt first when older than src/.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Twins, brokers and ptys are real processes: two cores cannot run many files at once.
    maxWorkers: 2,
    // The SDK's notice on a Node older than its next releases need would only clutter test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
