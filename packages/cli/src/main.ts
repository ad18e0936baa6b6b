/**
 * Entry point of the `evc-net` command (see ./Cli.ts).
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { command } from "./Cli.js"

const VERSION = "0.1.0"

Command.run(command, { name: "evc-net", version: VERSION })(process.argv).pipe(
  Effect.tapErrorCause((cause) =>
    Option.match(Cause.failureOption(cause), {
      // usage errors: @effect/cli has already printed them with the help
      onSome: (error) =>
        ValidationError.isValidationError(error)
          ? Effect.void
          : Console.error(`evc-net: ${ConfigError.isConfigError(error) ? String(error) : error.message}`),
      onNone: () =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Console.error(`evc-net: unexpected failure\n${Cause.pretty(cause)}`)
    })
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
