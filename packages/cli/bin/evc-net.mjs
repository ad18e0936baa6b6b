#!/usr/bin/env node
// The `evc-net` command. Runs the built CLI (dist/) when there is one; inside
// the workspace before a build, runs the TypeScript sources through tsx.
import { existsSync } from "node:fs"

const dist = new URL("../dist/main.js", import.meta.url)
if (existsSync(dist)) {
  await import(dist.href)
} else {
  const { register } = await import("tsx/esm/api")
  register({ tsconfig: new URL("../../../tsconfig.json", import.meta.url).pathname })
  await import(new URL("../src/main.ts", import.meta.url).href)
}
