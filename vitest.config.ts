import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // the workspace's packages from source, so tests need no build step
    alias: [
      { find: /^effect-evc-net$/, replacement: source("./packages/evc-net/src/index.ts") },
      { find: /^effect-evc-net-testing$/, replacement: source("./packages/evc-net-testing/src/index.ts") }
    ]
  },
  test: {
    projects,
    // a test that needs more than this is waiting on a real clock by mistake
    testTimeout: 20_000
  }
})
