import { describe, expect, it } from "@effect/vitest"
import { Credentials, EvcNetConfig, TokenCache, TokenCacheModule } from "effect-evc-net"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import { API_KEY, build, issuing, valueOf } from "./fixtures/cache.js"
import * as ScriptedHttp from "./fixtures/ScriptedHttp.js"
import { basicOf, expectNoSecret } from "./fixtures/secrets.js"

const HOUR = 3600

/** Advances the TestClock in steps, running `each` after every step. */
const stepThrough = <E>(total: Duration.DurationInput, step: Duration.DurationInput, each: Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const steps = Math.round(Duration.toMillis(total) / Duration.toMillis(step))
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(step)
      yield* each
    }
  })

describe("TokenCache", () => {
  it.scoped("building the layer does no network I/O", () =>
    Effect.gen(function*() {
      const { http } = yield* build(issuing(HOUR))
      yield* TestClock.adjust("1 hour")
      expect(http.requests).toHaveLength(0)
    }))

  describe("1. Fresh", () => {
    it.scoped("while a valid token exists, get does not touch the network and waits on nothing", () =>
      Effect.gen(function*() {
        // every request after the first hangs forever: a get that touched the network would never return
        const { cache, http } = yield* build((_, index) =>
          index === 0 ? ScriptedHttp.tokenReply("token-1", HOUR) : { hang: true }
        )
        const first = yield* cache.get
        for (let i = 0; i < 1000; i++) {
          const fiber = yield* Effect.fork(cache.get)
          yield* Effect.yieldNow()
          const exit = fiber.unsafePoll()
          expect(exit !== null && Exit.isSuccess(exit) && exit.value === first).toBe(true)
        }
        expect(http.requests).toHaveLength(1)
      }))
  })

  describe("2. Single flight", () => {
    it.scoped("concurrent callers with no token share one token request and receive the same token", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build((_, index) =>
          Effect.as(Effect.sleep("300 millis"), ScriptedHttp.tokenReply(`token-${index + 1}`, HOUR))
        )
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 500 }, () => cache.get), { concurrency: "unbounded" })
        )
        yield* TestClock.adjust("300 millis")
        const tokens = yield* Fiber.join(fiber)
        expect(http.requests).toHaveLength(1)
        expect(new Set(tokens.map(valueOf))).toEqual(new Set(["token-1"]))
      }))

    it.scoped("concurrent callers with no token share one failed request and receive the same typed error", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(() =>
          Effect.as(Effect.sleep("300 millis"), { status: 401, body: { error: "invalid_client" } })
        )
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 100 }, () => Effect.flip(cache.get)), { concurrency: "unbounded" })
        )
        yield* TestClock.adjust("300 millis")
        const errors = yield* Fiber.join(fiber)
        expect(http.requests).toHaveLength(1)
        expect(new Set(errors).size).toBe(1)
        expect(errors[0]._tag).toBe("InvalidCredentialsError")
      }))
  })

  describe("3. Scheduled refresh", () => {
    it.scoped("a 1-hour token is refreshed in the background 5 minutes before it expires", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(HOUR))
        yield* cache.get
        yield* TestClock.adjust("54 minutes")
        expect(http.requests).toHaveLength(1)
        yield* TestClock.adjust("1 minute")
        expect(http.requests).toHaveLength(2)
        expect(valueOf(yield* cache.get)).toBe("token-2")
      }))

    it.scoped("a 60-second token is refreshed at half its lifetime", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(60))
        yield* cache.get
        yield* TestClock.adjust("29 seconds")
        expect(http.requests).toHaveLength(1)
        yield* TestClock.adjust("1 second")
        expect(http.requests).toHaveLength(2)
      }))

    it.scoped("the refresh window is configurable", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(HOUR), { refresh: { refreshBefore: Duration.minutes(10) } })
        yield* cache.get
        yield* TestClock.adjust("50 minutes")
        expect(http.requests).toHaveLength(2)
      }))

    it.scoped("no caller waits during a scheduled refresh: they get the current token until the new one is in place", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build((_, index) =>
          index === 0
            ? ScriptedHttp.tokenReply("token-1", HOUR)
            : Effect.as(Effect.sleep("2 seconds"), ScriptedHttp.tokenReply(`token-${index + 1}`, HOUR))
        )
        yield* cache.get
        yield* TestClock.adjust("55 minutes")
        expect(http.requests).toHaveLength(2)
        expect((yield* cache.state).fetching).toBe(true)
        for (let i = 0; i < 10; i++) {
          const fiber = yield* Effect.fork(cache.get)
          yield* Effect.yieldNow()
          const exit = fiber.unsafePoll()
          expect(exit !== null && Exit.isSuccess(exit) && valueOf(exit.value)).toBe("token-1")
          yield* TestClock.adjust("100 millis")
        }
        yield* TestClock.adjust("1 second")
        expect(valueOf(yield* cache.get)).toBe("token-2")
      }))
  })

  describe("4. Refresh failure while the token is still valid", () => {
    it.scoped("keeps serving the token and retries with backoff until it succeeds", () =>
      Effect.gen(function*() {
        // token-1, then four 503s, then token-6
        const { cache, http } = yield* build((_, index) =>
          index === 0
            ? ScriptedHttp.tokenReply("token-1", HOUR)
            : index <= 4
            ? { status: 503, body: "Service Unavailable" }
            : ScriptedHttp.tokenReply(`token-${index + 1}`, HOUR)
        )
        const before = yield* Metric.value(TokenCacheModule.refreshFailures)
        yield* cache.get
        yield* TestClock.adjust("55 minutes")
        expect(http.requests).toHaveLength(2)
        // backoff 1 s, 2 s, 4 s, 8 s (±20 %), then success: within 20 s, each gap at least 80 % of its step
        const times: Array<number> = []
        let seen = http.requests.length
        yield* stepThrough(
          "20 seconds",
          "100 millis",
          Effect.gen(function*() {
            expect(valueOf(yield* cache.get)).toMatch(/token-(1|6)/)
            if (http.requests.length > seen) {
              seen = http.requests.length
              times.push(yield* TestClock.currentTimeMillis)
            }
          })
        )
        expect(http.requests).toHaveLength(6)
        expect(valueOf(yield* cache.get)).toBe("token-6")
        const gaps = times.map((t, i) => t - (i === 0 ? 55 * 60_000 : times[i - 1]))
        expect(gaps[0]).toBeGreaterThanOrEqual(800)
        expect(gaps[1]).toBeGreaterThanOrEqual(1600)
        expect(gaps[2]).toBeGreaterThanOrEqual(3200)
        expect(gaps[3]).toBeGreaterThanOrEqual(6400)
        const after = yield* Metric.value(TokenCacheModule.refreshFailures)
        expect(after.count - before.count).toBe(4)
      }))

    it.scoped("a 429 with Retry-After is honoured before the next attempt", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build((_, index) =>
          index === 0
            ? ScriptedHttp.tokenReply("token-1", HOUR)
            : index === 1
            ? { status: 429, body: "", headers: { "retry-after": "20" } }
            : ScriptedHttp.tokenReply(`token-${index + 1}`, HOUR)
        )
        yield* cache.get
        yield* TestClock.adjust("55 minutes")
        expect(http.requests).toHaveLength(2)
        yield* TestClock.adjust("19 seconds")
        expect(http.requests).toHaveLength(2)
        yield* TestClock.adjust("1 second")
        expect(http.requests).toHaveLength(3)
        expect(valueOf(yield* cache.get)).toBe("token-3")
      }))
  })

  describe("5. Expired, nothing refreshed", () => {
    it.scoped("a cold start rides out a brief 503", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build((_, index) =>
          index < 2 ? { status: 503, body: "" } : ScriptedHttp.tokenReply("token-3", HOUR)
        )
        const fiber = yield* Effect.fork(cache.get)
        yield* TestClock.adjust("2 seconds")
        expect(valueOf(yield* Fiber.join(fiber))).toBe("token-3")
        expect(http.requests).toHaveLength(3)
      }))

    it.scoped("the cold fetch is bounded: after three transient failures callers get the typed error", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(() => ({ status: 503, body: "down" }))
        const fiber = yield* Effect.fork(Effect.flip(cache.get))
        yield* TestClock.adjust("5 seconds")
        const error = yield* Fiber.join(fiber)
        expect(error).toMatchObject({ _tag: "TokenResponseError", status: 503 })
        expect(http.requests).toHaveLength(3)
      }))

    it.scoped("a token is never handed out later than expiresAt minus the skew margin", () =>
      Effect.gen(function*() {
        // the refresh always fails, so token-1 runs out; then the endpoint recovers
        let down = true
        const { cache, http } = yield* build((_, index) =>
          index === 0
            ? ScriptedHttp.tokenReply("token-1", HOUR)
            : down
            ? { transport: "ECONNRESET" }
            : ScriptedHttp.tokenReply(`token-${index + 1}`, HOUR)
        )
        yield* cache.get
        yield* TestClock.adjust(Duration.millis(HOUR * 1000 - 10_000 - 1))
        expect(valueOf(yield* cache.get)).toBe("token-1")
        expect((yield* cache.state).phase).toBe("stale")
        yield* TestClock.adjust("1 millis")
        expect((yield* cache.state).phase).toBe("expired")
        down = false
        const requestsBefore = http.requests.length
        const fiber = yield* Effect.fork(cache.get)
        yield* TestClock.adjust("30 seconds")
        const token = yield* Fiber.join(fiber)
        expect(valueOf(token)).not.toBe("token-1")
        expect(http.requests.length).toBeGreaterThan(requestsBefore)
      }))

    it.scoped("the skew margin scales down to a tenth of a short lifetime", () =>
      Effect.gen(function*() {
        const { cache } = yield* build((_, index) =>
          index === 0 ? ScriptedHttp.tokenReply("token-1", 20) : { hang: true }
        )
        yield* cache.get
        yield* TestClock.adjust("17999 millis")
        expect(valueOf(yield* cache.get)).toBe("token-1")
        yield* TestClock.adjust("1 millis")
        expect((yield* cache.state).phase).toBe("expired")
      }))
  })

  describe("6. Bad credentials are not hammered", () => {
    it.scoped("InvalidCredentialsError fails callers at once and is not retried in the request path", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(() => ({ status: 401, body: { error: "invalid_client" } }))
        const error = yield* Effect.flip(cache.get)
        expect(error._tag).toBe("InvalidCredentialsError")
        expect(http.requests).toHaveLength(1)
        // a second caller right after gets the same error without a new request
        expect(yield* Effect.flip(cache.get)).toBe(error)
        expect(http.requests).toHaveLength(1)
      }))

    it.scoped("a background refresh refused with bad credentials backs off to its cap", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build((_, index) =>
          index === 0 ? ScriptedHttp.tokenReply("token-1", HOUR) : { status: 401, body: "" }
        )
        yield* cache.get
        yield* TestClock.adjust("55 minutes")
        const start = http.requests.length
        yield* TestClock.adjust("4 minutes")
        // 1+2+4+8+16 s, then every 30 s: 5 + (240 - 31) / 30 ≈ 12 attempts (±20 % jitter)
        const attempts = http.requests.length - start
        expect(attempts).toBeGreaterThanOrEqual(9)
        expect(attempts).toBeLessThanOrEqual(16)
        expect(valueOf(yield* cache.get)).toBe("token-1")
      }))

    it.scoped.each(
      [
        ["bad credentials", { status: 401, body: "" }, TokenCacheModule.MAX_FETCHES_PER_HOUR],
        ["a token endpoint that is down", { status: 503, body: "" }, 3 * TokenCacheModule.MAX_FETCHES_PER_HOUR]
      ] as const
    )(
      "%s, with a caller every 5 seconds for an hour, sees a bounded number of requests",
      ([, reply, bound]) =>
        Effect.gen(function*() {
          const { cache, http } = yield* build(() => reply)
          yield* stepThrough("1 hour", "5 seconds", Effect.ignore(Effect.fork(cache.get)))
          expect(http.requests.length).toBeLessThanOrEqual(bound)
          expect(http.requests.length).toBeGreaterThan(bound / 3)
        })
    )
  })

  describe("7. Interruption", () => {
    it.scoped("a caller interrupted while waiting for a shared fetch does not cancel it for the others", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(() =>
          Effect.as(Effect.sleep("1 second"), ScriptedHttp.tokenReply("token-1", HOUR))
        )
        const impatient = yield* Effect.fork(cache.get)
        const patient = yield* Effect.fork(cache.get)
        yield* TestClock.adjust("500 millis")
        yield* Fiber.interrupt(impatient)
        yield* TestClock.adjust("500 millis")
        expect(valueOf(yield* Fiber.join(patient))).toBe("token-1")
        expect(http.requests).toHaveLength(1)
      }))

    it.effect("closing the layer's scope interrupts the refresh fiber and every timer", () =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor.track
        const scope = yield* Scope.make()
        const { cache, http } = yield* Scope.extend(build(issuing(HOUR)), scope).pipe(Effect.supervised(supervisor))
        yield* cache.get.pipe(Effect.supervised(supervisor))
        expect((yield* supervisor.value).length).toBe(1) // the refresh fiber, sleeping
        yield* Scope.close(scope, Exit.void)
        expect(yield* supervisor.value).toHaveLength(0)
        yield* TestClock.adjust("30 days")
        expect(http.requests).toHaveLength(1)
      }))

    it.effect("closing the scope during a fetch interrupts the fetch and its waiting callers", () =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor.track
        const scope = yield* Scope.make()
        const { cache } = yield* Scope.extend(build(() => ({ hang: true })), scope)
        const caller = yield* Effect.fork(cache.get).pipe(Effect.supervised(supervisor))
        yield* TestClock.adjust("1 second")
        expect((yield* supervisor.value).length).toBeGreaterThanOrEqual(2) // the caller and the fetch
        yield* Scope.close(scope, Exit.void)
        const exit = yield* Fiber.await(caller)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(yield* supervisor.value).toHaveLength(0)
      }))
  })

  describe("8. Any lifetime", () => {
    it.scoped("1-second tokens are refreshed before they expire and no get ever fails or waits", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(1))
        yield* cache.get
        yield* stepThrough(
          "10 seconds",
          "50 millis",
          Effect.gen(function*() {
            const fiber = yield* Effect.fork(cache.get)
            yield* Effect.yieldNow()
            const exit = fiber.unsafePoll()
            expect(exit !== null && Exit.isSuccess(exit)).toBe(true)
            if (exit !== null && Exit.isSuccess(exit)) {
              const now = yield* TestClock.currentTimeMillis
              expect(exit.value.expiresAt - now).toBeGreaterThanOrEqual(100)
            }
          })
        )
        // one token every 0.5 s
        expect(http.requests.length).toBeGreaterThanOrEqual(20)
        expect(http.requests.length).toBeLessThanOrEqual(22)
      }))

    it.scoped("24-hour tokens are refreshed 5 minutes before they expire", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(24 * HOUR))
        yield* cache.get
        yield* TestClock.adjust(Duration.sum(Duration.hours(23), Duration.minutes(54)))
        expect(http.requests).toHaveLength(1)
        yield* TestClock.adjust("1 minute")
        expect(http.requests).toHaveLength(2)
      }))

    it.scoped("a lifetime beyond the 24-day clamp is refreshed at the clamp, not never", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(1e12))
        const token = yield* cache.get
        expect(token.expiresAt - token.issuedAt).toBe(Duration.toMillis(Duration.days(24)))
        yield* TestClock.adjust(Duration.subtract(Duration.days(24), Duration.minutes(5)))
        expect(http.requests).toHaveLength(2)
      }))
  })

  describe("9. Soak", () => {
    it.scoped("30 simulated days with 1-hour tokens: one request per refresh interval and no failed get", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(HOUR))
        yield* cache.get
        let failures = 0
        yield* stepThrough(
          "30 days",
          "2 hours",
          Effect.catchAll(Effect.asVoid(cache.get), () => Effect.sync(() => failures++))
        )
        const expected = (30 * 24 * 60) / 55
        expect(failures).toBe(0)
        expect(Math.abs(http.requests.length - 1 - expected)).toBeLessThanOrEqual(1)
      }))
  })

  describe("invalidate, refresh and state", () => {
    it.scoped("invalidate drops only the token it is given (compare-and-invalidate)", () =>
      Effect.gen(function*() {
        const { cache, http } = yield* build(issuing(HOUR))
        const first = yield* cache.get
        yield* cache.invalidate(first)
        const second = yield* cache.get
        expect(valueOf(second)).toBe("token-2")
        // a late 401 for the old token must not drop the new one
        yield* cache.invalidate(first)
        expect(yield* cache.get).toBe(second)
        expect(http.requests).toHaveLength(2)
      }))

    it.scoped("refresh fetches a new token while callers keep the current one", () =>
      Effect.gen(function*() {
        const { cache } = yield* build((_, index) =>
          Effect.as(
            Effect.sleep(index === 0 ? "0 millis" : "1 second"),
            ScriptedHttp.tokenReply(`token-${index + 1}`, HOUR)
          )
        )
        yield* cache.get
        const refreshing = yield* Effect.fork(cache.refresh)
        yield* Effect.yieldNow()
        expect(valueOf(yield* cache.get)).toBe("token-1")
        yield* TestClock.adjust("1 second")
        expect(valueOf(yield* Fiber.join(refreshing))).toBe("token-2")
        expect(valueOf(yield* cache.get)).toBe("token-2")
      }))

    it.scoped("state names the phase and the timeline, and carries no secret", () =>
      Effect.gen(function*() {
        const { cache } = yield* build(issuing(HOUR))
        expect(yield* cache.state).toMatchObject({ phase: "empty", fetching: false, consecutiveFailures: 0 })
        yield* cache.get
        const fresh = yield* cache.state
        expect(fresh.phase).toBe("fresh")
        expect(fresh.refreshAt?.getTime()).toBe(55 * 60_000)
        expect(fresh.usableUntil?.getTime()).toBe(HOUR * 1000 - 10_000)
        expect(fresh.expiresAt?.getTime()).toBe(HOUR * 1000)
        expectNoSecret(fresh, ["token-1", API_KEY])
      }))

    it.effect("the eager layer fails at build on bad credentials", () =>
      Effect.gen(function*() {
        const http = ScriptedHttp.make(() => ({ status: 401, body: { error: "invalid_client" } }))
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(
          TokenCache.layerEager.pipe(
            Layer.provide(Layer.mergeAll(Credentials.layer({ apiKey: API_KEY }), EvcNetConfig.layer(), http.layer))
          )
        )))
        expect(exit).toMatchObject({ _tag: "Failure", cause: { error: { _tag: "InvalidCredentialsError" } } })
      }))

    it.scoped("layerWith builds the cache from explicit options", () =>
      Effect.gen(function*() {
        const http = ScriptedHttp.make(issuing(HOUR))
        const context = yield* Layer.build(
          TokenCache.layerWith({
            credentials: { apiKey: API_KEY, clientId: "7" },
            config: { tokenUrl: "http://127.0.0.1:1/t" }
          }).pipe(
            Layer.provide(http.layer)
          )
        )
        yield* Context.get(context, TokenCache).get
        expect(http.requests[0].url).toBe("http://127.0.0.1:1/t")
        expect(http.requests[0].headers["authorization"]).toBe(`Basic ${basicOf("7", API_KEY)}`)
      }))
  })

  describe("observability", () => {
    it.scoped("counts token requests by outcome", () =>
      Effect.gen(function*() {
        const success = Metric.tagged(TokenCacheModule.tokenRequests, "outcome", "success")
        const refused = Metric.tagged(TokenCacheModule.tokenRequests, "outcome", "InvalidCredentialsError")
        const [s0, r0] = [yield* Metric.value(success), yield* Metric.value(refused)]
        const { cache } = yield* build((_, index) =>
          index === 0 ? ScriptedHttp.tokenReply("token-1", HOUR) : { status: 401, body: "" }
        )
        yield* cache.get
        yield* cache.invalidate(yield* cache.get)
        yield* Effect.flip(cache.get)
        expect((yield* Metric.value(success)).count - s0.count).toBe(1)
        expect((yield* Metric.value(refused)).count - r0.count).toBe(1)
      }))

    it.scoped("background refreshes do not inherit the context of the request that triggered the first fetch", () =>
      Effect.gen(function*() {
        // Each refresh used to be forked from the previous one's fetch: an endless chain of
        // fibers (memory growing per refresh) carrying the first caller's annotations and span.
        const stored: Array<Record<string, unknown>> = []
        const capture = Logger.make(({ annotations, message }) => {
          if (String(message).includes("token stored")) stored.push(Object.fromEntries(annotations))
        })
        yield* Effect.gen(function*() {
          const { cache } = yield* build(issuing(60))
          yield* cache.get.pipe(Effect.annotateLogs("request_id", "r-1"))
          yield* TestClock.adjust("31 seconds")
          yield* TestClock.adjust("31 seconds")
        }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        expect(stored).toHaveLength(3)
        expect(stored[0]).toMatchObject({ request_id: "r-1" }) // the caller's own fetch
        expect(stored.slice(1).map((annotations) => annotations.request_id)).toEqual([undefined, undefined])
      }))

    it.scoped("logs never contain the API key, the Basic string or a token", () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const capture = Logger.make(({ annotations, message }) => {
          lines.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }))
        })
        yield* Effect.gen(function*() {
          const { cache } = yield* build((_, index) =>
            index === 0
              ? ScriptedHttp.tokenReply("token-1", 60)
              : index < 4
              ? { status: 500, body: "oops" }
              : ScriptedHttp.tokenReply(`token-${index + 1}`, 60)
          )
          yield* cache.get
          yield* TestClock.adjust("2 minutes")
          yield* cache.get
        }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        expect(lines.length).toBeGreaterThan(3)
        expect(lines.some((line) => line.includes("refresh failed"))).toBe(true)
        for (const line of lines) expectNoSecret(line, [API_KEY, basicOf("1", API_KEY), "token-1", "token-5"])
      }))
  })
})
