/**
 * Scheduled refresh: short-lived tokens are replaced in the background while
 * requests continue, and no request waits for a token.
 *
 *   npx tsx examples/src/scheduled-refresh.ts
 *
 * Against the stand-in, tokens live 3 s and the token endpoint takes 300 ms.
 * With the default policy the cache starts a refresh at
 * `expiresAt − min(5 min, lifetime / 2)` (here 1.5 s before expiry), so the
 * new token is in place long before the old one runs out. Against EVC-net
 * (`EVC_NET_API_KEY` set) tokens live an hour, so the example forces one
 * refresh with `TokenCache.refresh` halfway through instead.
 */
import { EvcNetClient, EvcNetConfig, TokenCache } from "effect-evc-net"
import * as Array from "effect/Array"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Backend from "./backend.js"

const TOKEN_LIFETIME = Duration.seconds(3)
const TOKEN_LATENCY = Duration.millis(300)
const TRAFFIC = Duration.seconds(10)
const CONCURRENCY = 4

const program = Effect.gen(function*() {
  const evc = yield* EvcNetClient
  const cache = yield* TokenCache
  const config = yield* EvcNetConfig
  const path = yield* Backend.examplePath
  yield* Console.log(`Talking to ${Backend.target(config)}`)

  // Each request: an API call, or (against EVC-net with no EVC_NET_EXAMPLE_PATH)
  // the token lookup every API call starts with.
  const request = Option.match(path, {
    onNone: () => Effect.asVoid(cache.get),
    onSome: (p) => Effect.asVoid(evc.get(p))
  })

  const start = yield* Clock.currentTimeMillis
  const at = Effect.map(Clock.currentTimeMillis, (now) => `t=${((now - start) / 1000).toFixed(1)}s`)
  const first = yield* cache.get // the cache is empty: this one waits for the first token
  const initial = yield* cache.state
  yield* Console.log(
    `${yield* at} first token, valid for ${Duration.format(first.lifetime)}; refresh scheduled ${
      seconds(initial.refreshAt, start)
    }, before expiry ${seconds(initial.expiresAt, start)}`
  )

  const requests = yield* Ref.make(0)
  const failures = yield* Ref.make(0)
  const slowest = yield* Ref.make(0)
  const worker = request.pipe(
    Effect.either,
    Effect.timed,
    Effect.flatMap(([duration, result]) =>
      Effect.all([
        Ref.update(requests, (n) => n + 1),
        Ref.update(slowest, (max) => Math.max(max, Duration.toMillis(duration))),
        result._tag === "Left" ? Ref.update(failures, (n) => n + 1) : Effect.void
      ])
    ),
    Effect.forever
  )

  // Reports each new token as it lands, while the workers keep going.
  const lastIssued = yield* Ref.make(first.issuedAt)
  const refreshes = yield* Ref.make(0)
  const watcher = Effect.gen(function*() {
    const state = yield* cache.state
    const issued = state.issuedAt?.getTime()
    if (issued === undefined || issued === (yield* Ref.get(lastIssued))) return
    yield* Ref.set(lastIssued, issued)
    const n = yield* Ref.updateAndGet(refreshes, (k) => k + 1)
    yield* Console.log(
      `${yield* at} refresh #${n} in place (fetched in the background); ${yield* Ref.get(requests)} requests so far, ` +
        `slowest ${Math.round(yield* Ref.get(slowest))} ms; next refresh ${seconds(state.refreshAt, start)}`
    )
  }).pipe(Effect.repeat(Schedule.spaced("50 millis")))

  // EVC-net's tokens live an hour: force one refresh halfway through instead.
  const forced = Backend.live
    ? Effect.delay(cache.refresh, Duration.unsafeDivide(TRAFFIC, 2))
    : Effect.never

  yield* Effect.all([...Array.makeBy(CONCURRENCY, () => worker), watcher, forced], {
    concurrency: "unbounded",
    discard: true
  }).pipe(Effect.timeoutTo({ duration: TRAFFIC, onTimeout: () => undefined, onSuccess: () => undefined }))
  yield* Effect.sleep("60 millis") // let the watcher report a refresh that landed at the very end

  const total = yield* Ref.get(requests)
  const max = Math.round(yield* Ref.get(slowest))
  yield* Console.log(
    `\n${total} requests in ${Duration.format(TRAFFIC)} (${yield* Ref.get(failures)} failed), ${yield* Ref.get(
      refreshes
    )} background refreshes; slowest request ${max} ms.`
  )
  if (!Backend.live) {
    yield* Console.log(
      max < Duration.toMillis(TOKEN_LATENCY)
        ? `No request waited for a token: each refresh takes ${
          Duration.format(TOKEN_LATENCY)
        }, the slowest request ${max} ms.`
        : `The slowest request took ${max} ms, above the ${Duration.format(TOKEN_LATENCY)} a token takes: ` +
          "a busy machine, or a request that waited. Run it again to tell."
    )
  }
})

/** `t=…s` for an instant of the cache's state, relative to the start. */
const seconds = (date: Date | undefined, start: number): string =>
  date === undefined ? "(none)" : `at t=${((date.getTime() - start) / 1000).toFixed(1)}s`

Backend.run("scheduled-refresh", program, {
  standIn: { tokenLifetime: TOKEN_LIFETIME, latency: { token: TOKEN_LATENCY } }
})
