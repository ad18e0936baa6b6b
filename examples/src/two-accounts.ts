/**
 * Two EVC-net accounts in one program: each `EvcNetClient` under its own tag,
 * with its own credentials and its own token cache, so their tokens never mix.
 *
 *   npx tsx examples/src/two-accounts.ts
 *
 * Against the stand-in both accounts exist on it. Against EVC-net the first
 * account is `EVC_NET_API_KEY` / `EVC_NET_CLIENT_ID` and the second
 * `EVC_NET_SECOND_API_KEY` / `EVC_NET_SECOND_CLIENT_ID` (both must be set).
 *
 * The one gotcha: layers are memoized by reference, so two clients need two
 * token caches. `EvcNetClient.layerAs` builds a fresh one for each tag.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { TokenCache } from "effect-evc-net"
import { EvcNetClient, EvcNetConfig } from "effect-evc-net"
import { MockEvcNet } from "effect-evc-net-testing"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Backend from "./backend.js"

/** The fleet operator's account. */
class Fleet extends Context.Tag("examples/Fleet")<Fleet, EvcNetClient.Service>() {}
/** The billing department's account. */
class Billing extends Context.Tag("examples/Billing")<Billing, EvcNetClient.Service>() {}

const FLEET_KEY = "fleet-0000-demo-key"
const BILLING_KEY = "billing-0000-demo-key"

const program = Effect.gen(function*() {
  const fleet = yield* Fleet
  const billing = yield* Billing
  const path = Backend.live ? yield* Backend.examplePath : Option.some("/demo/whoami")
  if (Option.isNone(path)) {
    return yield* Console.log("Set EVC_NET_EXAMPLE_PATH to a GET endpoint of your API to call it with both accounts.")
  }
  // both at once: each client uses its own token
  const [asFleet, asBilling] = yield* Effect.all([fleet.get(path.value), billing.get(path.value)], {
    concurrency: 2
  })
  yield* Console.log(`GET ${path.value} as fleet   →`, JSON.stringify(asFleet))
  yield* Console.log(`GET ${path.value} as billing →`, JSON.stringify(asBilling))

  const mock = yield* Effect.serviceOption(MockEvcNet)
  if (Option.isSome(mock)) {
    const counters = yield* mock.value.counters
    yield* Console.log(`The stand-in issued ${counters.tokensIssued} tokens: one per account.`)
  }
})

/** Both clients, over one HTTP client. */
const accounts = (
  fleet: TokenCache.LayerOptions,
  billing: TokenCache.LayerOptions
): Layer.Layer<Fleet | Billing, Backend.Error> =>
  Layer.merge(EvcNetClient.layerAs(Fleet, fleet), EvcNetClient.layerAs(Billing, billing)).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

const standInAccounts = Layer.unwrapEffect(Effect.gen(function*() {
  const mock = yield* MockEvcNet
  const config: EvcNetConfig.Options = { tokenUrl: mock.urls.tokenUrl, apiUrl: mock.urls.apiUrl }
  yield* Console.log(`Talking to the embedded EVC-net stand-in at ${mock.urls.apiUrl} with two accounts`)
  return accounts(
    { credentials: { apiKey: FLEET_KEY, clientId: "fleet" }, config },
    { credentials: { apiKey: BILLING_KEY, clientId: "billing" }, config }
  )
})).pipe(
  Layer.provideMerge(MockEvcNet.layerServer({
    accounts: [{ apiKey: FLEET_KEY, clientId: "fleet" }, { apiKey: BILLING_KEY, clientId: "billing" }]
  }))
)

const liveAccounts = Layer.unwrapEffect(Effect.gen(function*() {
  const account = (prefix: string) =>
    Config.all({
      apiKey: Config.redacted(`${prefix}API_KEY`),
      clientId: Config.withDefault(Config.string(`${prefix}CLIENT_ID`), "1")
    })
  const first = yield* account("EVC_NET_")
  const second = yield* account("EVC_NET_SECOND_")
  const config = yield* EvcNetConfig
  const urls: EvcNetConfig.Options = { tokenUrl: config.tokenUrl, apiUrl: config.apiUrl }
  yield* Console.log(`Talking to ${Backend.target(config)} with two accounts`)
  return accounts({ credentials: first, config: urls }, { credentials: second, config: urls })
})).pipe(Layer.provide(EvcNetConfig.layerConfig))

Backend.runWith("two-accounts", program, Backend.live ? liveAccounts : standInAccounts)
