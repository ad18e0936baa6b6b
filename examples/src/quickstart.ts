/**
 * Quick start: get a token, call an endpoint, print the result.
 *
 *   npx tsx examples/src/quickstart.ts                      # the embedded stand-in
 *   EVC_NET_API_KEY=… EVC_NET_EXAMPLE_PATH=/your-endpoint \
 *     npx tsx examples/src/quickstart.ts                    # EVC-net
 *
 * In your own program the whole setup is two layers:
 *
 *   myProgram.pipe(
 *     Effect.provide(EvcNetClient.layerConfig),   // EVC_NET_API_KEY, EVC_NET_CLIENT_ID, …
 *     Effect.provide(NodeHttpClient.layerUndici)
 *   )
 *
 * `Backend.run` below does exactly that when `EVC_NET_API_KEY` is set, and
 * otherwise starts the stand-in on a loopback port and points the client at it.
 */
import { EvcNetClient, EvcNetConfig, TokenCache } from "effect-evc-net"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Backend from "./backend.js"

const program = Effect.gen(function*() {
  const config = yield* EvcNetConfig
  yield* Console.log(`Talking to ${Backend.target(config)}`)

  // 1. A token. You rarely need this: EvcNetClient fetches, caches and refreshes it for you.
  const token = yield* (yield* TokenCache).get
  yield* Console.log(`Got a ${token.tokenType} token, valid for ${Duration.format(token.lifetime)}: ${token.token}`)

  // 2. An API call: `Authorization: Bearer …` is added for you.
  const path = yield* Backend.examplePath
  if (Option.isNone(path)) {
    return yield* Console.log("Set EVC_NET_EXAMPLE_PATH to a GET endpoint of your API to call it.")
  }
  const evc = yield* EvcNetClient
  const answer = yield* evc.get(path.value)
  yield* Console.log(`GET ${path.value} →`, JSON.stringify(answer, null, 2))
})

Backend.run("quickstart", program)
