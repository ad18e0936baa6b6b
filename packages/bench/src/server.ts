/**
 * The benchmark's EVC-net stand-in, in a child process of its own so that the
 * clients under test and the server do not share an event loop. Controlled
 * over Node's IPC channel by `ServerProcess` (./ServerProcess.ts).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { MockEvcNet } from "effect-evc-net-testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type { Command, Reply } from "./protocol.js"

const program = Effect.gen(function*() {
  const mock = yield* MockEvcNet
  const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
  const send = (message: Reply) => process.send?.(message)

  const handle = (command: Command): Effect.Effect<unknown> => {
    switch (command.op) {
      case "counters":
        return mock.counters
      case "reset":
        return mock.resetCounters
      case "configure":
        return Effect.zipRight(
          mock.setTokenLifetime(Duration.seconds(command.tokenLifetimeSeconds)),
          mock.setLatency({ token: Duration.millis(command.tokenLatencyMillis) })
        )
    }
  }
  process.on("message", (command: Command) => {
    void runPromise(handle(command)).then((result) => send({ id: command.id, result }))
  })
  send({ id: 0, result: { urls: mock.urls, apiKey: mock.accounts[0].apiKey } })
  // serve until the parent goes away
  yield* Effect.async<void>((resume) => void process.once("disconnect", () => resume(Effect.void)))
})

program.pipe(Effect.provide(MockEvcNet.layerServer()), NodeRuntime.runMain)
