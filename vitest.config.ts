import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Twins, brokers and ptys are real processes: two cores cannot run many files at once.
    maxWorkers: 2,
  },
});
