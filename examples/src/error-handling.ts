/**
 * Error handling: every failure is a typed value in the error channel, so
 * `Effect.catchTags` turns each into what your program should do or say.
 *
 *   npx tsx examples/src/error-handling.ts
 *
 * Against the stand-in the example provokes each error on purpose (a wrong
 * key, a token endpoint that drops connections, an API that refuses even a
 * fresh token, a missing resource, an answer of the wrong shape). Against
 * EVC-net (`EVC_NET_API_KEY` set) it runs only what is harmless there: an
 * unknown path and an unreachable host.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { EvcNetError } from "effect-evc-net"
import { EvcNetClient, EvcNetConfig } from "effect-evc-net"
import { MockEvcNet } from "effect-evc-net-testing"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Backend from "./backend.js"

/**
 * What a person should read for each error. This is the part to copy: one
 * branch per error your program can meet, checked by the compiler.
 */
const explain = <A>(effect: Effect.Effect<A, EvcNetError>): Effect.Effect<string> =>
  effect.pipe(
    Effect.as("succeeded"),
    Effect.catchTags({
      InvalidCredentialsError: (e) =>
        Effect.succeed(`Not logged in: the API key was refused (HTTP ${e.status}). Fix EVC_NET_API_KEY.`),
      NetworkError: (e) =>
        Effect.succeed(
          e.reason === "Timeout"
            ? `EVC-net did not answer in time (${e.method} ${e.url}). Try again later.`
            : `Could not reach EVC-net (${e.method} ${e.url}). Check the network and EVC_NET_TOKEN_URL / EVC_NET_API_URL.`
        ),
      TokenExpiredError: (e) =>
        Effect.succeed(
          `EVC-net refused a brand-new token${e.error === undefined ? "" : ` (${e.error})`}: ask EVC-net.`
        ),
      TokenResponseError: (e) => Effect.succeed(`The token endpoint answered oddly: ${e.message}`),
      ApiError: (e) =>
        Effect.succeed(
          e.status === 404
            ? `Nothing at ${e.method} ${e.path} (404).`
            : `EVC-net answered ${e.status} to ${e.method} ${e.path}.`
        ),
      ApiDecodeError: (e) =>
        Effect.succeed(`EVC-net's answer to ${e.path} did not have the expected shape: ${e.issues[0]}`),
      RequestEncodeError: (e) => Effect.succeed(`Could not send ${e.method} ${e.path}: ${e.description}`)
    })
  )

/** A client of its own (so its token does not mix with the main one's). */
const clientWith = (options: Parameters<typeof EvcNetClient.layerWith>[0]) =>
  EvcNetClient.layerWith(options).pipe(Layer.provide(NodeHttpClient.layerUndici))

/** Runs `effect` with a client of its own and explains the outcome. */
const withOwnClient = (
  options: Parameters<typeof EvcNetClient.layerWith>[0],
  use: (evc: EvcNetClient.Service) => Effect.Effect<unknown, EvcNetError>
): Effect.Effect<string, ConfigError.ConfigError> =>
  Effect.flatMap(EvcNetClient, (evc) => explain(use(evc))).pipe(
    Effect.provide(clientWith(options)),
    // an eager layer could fail with a token error while it is built: explain it the same way
    Effect.catchAll((e) => ConfigError.isConfigError(e) ? Effect.fail(e) : explain(Effect.fail(e)))
  )

const WrongShape = Schema.Struct({ chargers: Schema.Array(Schema.Struct({ id: Schema.Number })) })

const program = Effect.gen(function*() {
  const config = yield* EvcNetConfig
  const evc = yield* EvcNetClient
  const mock = yield* Effect.serviceOption(MockEvcNet)
  yield* Console.log(`Talking to ${Backend.target(config)}\n`)
  const show = (title: string, outcome: string) => Console.log(`${title}\n  → ${outcome}`)

  yield* show(
    "A path that does not exist",
    yield* explain(evc.get("/effect-evc-net-example/does-not-exist"))
  )
  yield* show(
    "An unreachable host",
    yield* withOwnClient({
      credentials: { apiKey: "unused" },
      config: { tokenUrl: "http://127.0.0.1:9/oauth/v2/token", apiUrl: "http://127.0.0.1:9/v1" }
    }, (own) => own.get("/anything"))
  )
  if (Option.isNone(mock)) {
    return yield* Console.log("\n(The other cases need the stand-in: run without EVC_NET_API_KEY to see them.)")
  }
  const standIn = mock.value
  const urls = { tokenUrl: standIn.urls.tokenUrl, apiUrl: standIn.urls.apiUrl }

  yield* show(
    "A wrong API key",
    yield* withOwnClient({ credentials: { apiKey: "not-the-key" }, config: urls }, (own) => own.get("/demo/whoami"))
  )
  yield* standIn.failNext("token", 3, "drop")
  yield* show(
    "A token endpoint that drops every connection (3 tries with backoff)",
    yield* withOwnClient(
      { credentials: { apiKey: standIn.accounts[0].apiKey }, config: urls },
      (own) => own.get("/demo/whoami")
    )
  )
  const invalidToken = { status: 401, headers: { "www-authenticate": "Bearer error=\"invalid_token\"" } }
  yield* standIn.failNext("api", 2, invalidToken)
  yield* show("An API that refuses the token, and the fresh one too", yield* explain(evc.get("/demo/whoami")))
  yield* show("A missing resource", yield* explain(evc.get("/demo/chargers/NO-SUCH-CHARGER")))
  yield* show(
    "An answer of another shape than the schema",
    yield* explain(evc.get("/demo/chargers", { schema: WrongShape }))
  )
})

Backend.run("error-handling", program)
