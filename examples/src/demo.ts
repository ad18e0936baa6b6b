/**
 * `npm start`: a narrated tour of effect-evc-net against the embedded EVC-net
 * stand-in on a loopback port (or EVC-net itself when `EVC_NET_API_KEY` is
 * set; steps that need the stand-in's controls are then skipped).
 *
 *   1. one token request, whatever the number of callers
 *   2. many concurrent calls on that one token
 *   3. short-lived tokens rolling over while traffic continues
 *   4. a revoked token: 401 → one refresh → success
 *   5. bad credentials, as a user sees them
 *
 * Exits 1 if a step did not behave as described, so CI can run it as a smoke check.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { EvcNetError } from "effect-evc-net"
import { EvcNetClient, EvcNetConfig, TokenCache, TokenCacheModule } from "effect-evc-net"
import type { MockEvcNet } from "effect-evc-net-testing"
import * as Array from "effect/Array"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Backend from "./backend.js"

const CONCURRENT_CALLS = 200
const ROLLOVER_TOKEN_LIFETIME = Duration.seconds(2)
const ROLLOVER_TOKEN_LATENCY = Duration.millis(300)
const ROLLOVER_TRAFFIC = Duration.seconds(6)
const ROLLOVER_CONCURRENCY = 8

interface Check {
  readonly label: string
  readonly ok: boolean
  readonly detail: string
  /** A timing on a shared machine: reported, but a miss does not fail the demo. */
  readonly soft: boolean
}

const checks: Array<Check> = []
const mark = (c: Pick<Check, "ok" | "soft">) => c.ok ? "✓" : c.soft ? "!" : "✗"
const check = (label: string, ok: boolean, detail: string, soft = false) =>
  Effect.sync(() => checks.push({ label, ok, detail, soft })).pipe(
    Effect.zipRight(Console.log(`   ${mark({ ok, soft })} ${detail}`))
  )
const step = (n: number, title: string) => Console.log(`\n${n}. ${title}`)
const skip = (reason: string) => Console.log(`   (skipped: ${reason})`)

/**
 * Token requests so far: the stand-in's own count, or against EVC-net the
 * `TokenCache` metric `evc_net_token_requests_total` (all outcomes).
 */
const tokenRequests = (mock: Option.Option<MockEvcNet.Service>): Effect.Effect<number> =>
  Option.match(mock, {
    onSome: (standIn) => Effect.map(standIn.counters, (counters) => counters.tokenRequests),
    onNone: () =>
      Effect.map(Metric.snapshot, (pairs) =>
        pairs.reduce(
          (sum, pair) =>
            pair.metricKey.name === TokenCacheModule.tokenRequests.name && MetricState.isCounterState(pair.metricState)
              ? sum + Number(pair.metricState.count)
              : sum,
          0
        ))
  })

const ms = (duration: Duration.Duration) => `${Math.round(Duration.toMillis(duration))} ms`

/** Calls `path` once, timing it; a failure is returned, not raised. */
const timedCall = (evc: EvcNetClient.Service, path: string) => evc.get(path).pipe(Effect.either, Effect.timed)

const program = Effect.gen(function*() {
  const evc = yield* EvcNetClient
  const cache = yield* TokenCache
  const config = yield* EvcNetConfig
  const mock = yield* Backend.standIn
  const path = yield* Backend.examplePath

  yield* Console.log(`effect-evc-net demo, talking to ${Backend.target(config)}`)

  // 1 ---------------------------------------------------------------------------
  yield* step(1, "Get an access token (POST /oauth/v2/token with Basic credentials)")
  const before = yield* tokenRequests(mock)
  const token = yield* cache.get
  const state = yield* cache.state
  const refreshIn = state.refreshAt === undefined
    ? "not scheduled"
    : `in ${Duration.format(Duration.seconds(Math.round((state.refreshAt.getTime() - Date.now()) / 1000)))}`
  yield* Console.log(
    `   a ${token.tokenType} token valid for ${Duration.format(token.lifetime)}; background refresh ${refreshIn}`
  )
  yield* Console.log(`   printed, the token reads ${String(token.token)}: it is Redacted end to end`)
  yield* check("one token", (yield* tokenRequests(mock)) - before === 1, "one token request")

  // 2 ---------------------------------------------------------------------------
  yield* step(2, `${CONCURRENT_CALLS} concurrent API calls on that one token`)
  if (Option.isNone(path)) {
    yield* skip("set EVC_NET_EXAMPLE_PATH to a GET endpoint of your EVC-net API to try this step")
  } else {
    const start = yield* tokenRequests(mock)
    const results = yield* Effect.forEach(
      Array.makeBy(CONCURRENT_CALLS, () => timedCall(evc, path.value)),
      (call) => call,
      { concurrency: "unbounded" }
    )
    const failed = results.filter(([, result]) => result._tag === "Left").length
    const slowest = Duration.millis(Math.max(...results.map(([duration]) => Duration.toMillis(duration))))
    const extra = (yield* tokenRequests(mock)) - start
    yield* check(
      "concurrent calls",
      failed === 0 && extra === 0,
      `${CONCURRENT_CALLS - failed}/${CONCURRENT_CALLS} succeeded, ${extra} extra token requests, slowest ${
        ms(slowest)
      }`
    )
  }

  // 3 ---------------------------------------------------------------------------
  yield* step(
    3,
    `Tokens that live ${Duration.format(ROLLOVER_TOKEN_LIFETIME)} from a token endpoint that takes ${
      Duration.format(ROLLOVER_TOKEN_LATENCY)
    }, under ${Duration.format(ROLLOVER_TRAFFIC)} of traffic`
  )
  if (Option.isNone(mock)) {
    yield* skip("EVC-net decides its own token lifetime; the stand-in can shorten it")
  } else {
    yield* rollover(mock.value, evc, cache)
  }

  // 4 ---------------------------------------------------------------------------
  yield* step(4, "The server revokes every token: the next call gets a 401")
  if (Option.isNone(mock)) {
    yield* skip("only the stand-in can be told to revoke tokens")
  } else {
    yield* mock.value.revokeAll
    yield* mock.value.resetCounters
    const result = yield* evc.get("/demo/whoami").pipe(Effect.either)
    const counters = yield* mock.value.counters
    yield* check(
      "revoked token",
      result._tag === "Right" && counters.tokenRequests === 1 && (counters.apiByStatus[401] ?? 0) === 1,
      `${result._tag === "Right" ? "the call succeeded" : `the call failed (${result.left.message})`} after ${
        counters.apiByStatus[401] ?? 0
      } × 401 and ${counters.tokenRequests} token request`
    )
  }

  // 5 ---------------------------------------------------------------------------
  yield* step(5, "A wrong API key, as your program sees it")
  if (Option.isNone(mock)) {
    yield* skip("we do not send a wrong key to EVC-net on purpose")
  } else {
    const error = yield* badCredentials(mock.value)
    yield* Console.log(`   ${error._tag}: ${error.message}`)
    yield* check(
      "bad credentials",
      error._tag === "InvalidCredentialsError",
      "a typed InvalidCredentialsError, the key nowhere in it"
    )
  }

  // summary ---------------------------------------------------------------------
  const failed = checks.filter((c) => !c.ok && !c.soft)
  const passed = checks.filter((c) => c.ok).length
  yield* Console.log(`\nSummary: ${passed} of ${checks.length} checks passed`)
  for (const c of checks) yield* Console.log(`  ${mark(c)} ${c.label.padEnd(18)} ${c.detail}`)
  if (checks.some((c) => !c.ok && c.soft)) {
    yield* Console.log("  (! is a timing on a busy machine: worth a look, not a failure)")
  }
  if (failed.length > 0) {
    return yield* Effect.fail(new Error(`${failed.map((c) => c.label).join(", ")} did not behave as described`))
  }
})

/** Step 3: 2-s tokens, a 300-ms token endpoint, 6 s of traffic at concurrency 8. */
const rollover = (mock: MockEvcNet.Service, evc: EvcNetClient.Service, cache: TokenCache.Service) =>
  Effect.gen(function*() {
    yield* mock.setTokenLifetime(ROLLOVER_TOKEN_LIFETIME)
    yield* mock.setLatency({ token: ROLLOVER_TOKEN_LATENCY })
    yield* cache.refresh // the first short-lived token
    yield* mock.resetCounters
    const durations = yield* Ref.make<Array<number>>([])
    const failures = yield* Ref.make(0)
    const worker = Effect.gen(function*() {
      const [duration, result] = yield* timedCall(evc, "/demo/chargers")
      yield* Ref.update(durations, (all) => (all.push(Duration.toMillis(duration)), all))
      if (result._tag === "Left") yield* Ref.update(failures, (n) => n + 1)
    }).pipe(Effect.forever)
    yield* Effect.all(Array.makeBy(ROLLOVER_CONCURRENCY, () => worker), { concurrency: "unbounded" }).pipe(
      Effect.timeoutTo({ duration: ROLLOVER_TRAFFIC, onTimeout: () => undefined, onSuccess: () => undefined })
    )
    const all = yield* Ref.get(durations)
    const counters = yield* mock.counters
    const unauthorized = counters.apiByStatus[401] ?? 0
    const failed = yield* Ref.get(failures)
    const slowest = Math.max(...all)
    yield* Console.log(
      `   ${all.length} requests, ${counters.tokenRequests} token requests in the background, ${unauthorized} × 401, ${failed} failed`
    )
    yield* Console.log(
      `   slowest request ${Math.round(slowest)} ms (a request that waited for a token would take over ${
        ms(ROLLOVER_TOKEN_LATENCY)
      })`
    )
    yield* check(
      "token rollover",
      unauthorized === 0 && failed === 0 && counters.tokenRequests >= 2,
      `${counters.tokenRequests} token rollovers, ${unauthorized} × 401, ${failed} failed calls`
    )
    yield* check(
      "nobody waited",
      slowest < Duration.toMillis(ROLLOVER_TOKEN_LATENCY),
      `slowest ${Math.round(slowest)} ms ${
        slowest < Duration.toMillis(ROLLOVER_TOKEN_LATENCY) ? "<" : "≥"
      } token latency ${ms(ROLLOVER_TOKEN_LATENCY)}`,
      true
    )
    // back to the stand-in's defaults
    yield* mock.setTokenLifetime(Duration.hours(1))
    yield* mock.setLatency({})
    yield* cache.refresh
  })

/** Step 5: a second client with a wrong key; its error, as a value. */
const badCredentials = (mock: MockEvcNet.Service): Effect.Effect<EvcNetError | ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const evc = yield* EvcNetClient
    return yield* evc.get("/demo/whoami")
  }).pipe(
    Effect.provide(
      EvcNetClient.layerWith({
        credentials: { apiKey: "a-wrong-api-key" },
        config: { tokenUrl: mock.urls.tokenUrl, apiUrl: mock.urls.apiUrl }
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    ),
    Effect.flip,
    Effect.orDieWith(() => "demo: a wrong API key was accepted")
  )

Backend.run("demo", program)
