/**
 * The vitest projects of this workspace. `vitest.config.ts` imports this list
 * as `test.projects`; each project inherits its `resolve.alias` (`extends: true`).
 */
import type { TestProjectInlineConfiguration } from "vitest/config"

const project = (name: string, root: string): TestProjectInlineConfiguration => ({
  extends: true,
  test: { name, root, include: ["test/**/*.test.ts"] }
})

export default [
  project("effect-evc-net", "./packages/evc-net"),
  project("effect-evc-net-testing", "./packages/evc-net-testing"),
  project("effect-evc-net-cli", "./packages/cli"),
  project("examples", "./examples")
] satisfies Array<TestProjectInlineConfiguration>
