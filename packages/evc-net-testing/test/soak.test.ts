/**
 * Property-based soak: random schedules of faults, token lifetimes and
 * requests over a week of simulated time (TestClock), checked against the
 * invariants a user relies on. CI runs a few seeded runs; `npm run soak`
 * runs many more (EVC_NET_SOAK_RUNS, EVC_NET_SOAK_SEED).
 */
import { describe, expect, it } from "@effect/vitest"
import { EvcNetClient, EvcNetConfigModule } from "effect-evc-net"
import type { MockEvcNet } from "effect-evc-net-testing"
import { EvcNetTest, MockEvcNetModule } from "effect-evc-net-testing"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"

const RUNS = Number(process.env.EVC_NET_SOAK_RUNS ?? 4)
const SEED = Number(process.env.EVC_NET_SOAK_SEED ?? 20261204)
const DAYS = 7
const API_KEY = "e5a7c2b9-1d4f-4a6e-b8c3-9f2d7e1a5b60"
const BASIC = Buffer.from(`1:${API_KEY}`).toString("base64")
const EVC_NET_ERRORS = new Set([
  "InvalidCredentialsError",
  "NetworkError",
  "TokenResponseError",
  "TokenExpiredError",
  "ApiError",
  "ApiDecodeError",
  "RequestEncodeError"
])

/** Seconds a request may take at most: 4 attempts of a 30 s timeout plus backoff, and a cold fetch. */
const REQUEST_BOUND_SECONDS = 4 * 30 + 15 + 40

type Fault = MockEvcNet.Fault
const faultArb: FastCheck.Arbitrary<Fault> = FastCheck.constantFrom<Array<Fault>>(
  { status: 500 },
  { status: 503 },
  { status: 429, headers: { "retry-after": "1" } },
  "drop",
  "hang"
)

type Event =
  | { readonly _tag: "Request"; readonly gapMinutes: number }
  | { readonly _tag: "TokenFault"; readonly gapMinutes: number; readonly fault: Fault; readonly count: number }
  | { readonly _tag: "ApiFault"; readonly gapMinutes: number; readonly fault: Fault; readonly count: number }
  | { readonly _tag: "ApiUnauthorized"; readonly gapMinutes: number }
  | { readonly _tag: "Revoke"; readonly gapMinutes: number }
  | { readonly _tag: "Lifetime"; readonly gapMinutes: number; readonly seconds: number }

const gap = FastCheck.integer({ min: 0, max: 240 })
const lifetimeArb = FastCheck.constantFrom(900, 3600, 86_400)
const eventArb: FastCheck.Arbitrary<Event> = FastCheck.oneof(
  { weight: 6, arbitrary: gap.map((gapMinutes) => ({ _tag: "Request" as const, gapMinutes })) },
  {
    weight: 2,
    arbitrary: FastCheck.record({ gapMinutes: gap, fault: faultArb, count: FastCheck.integer({ min: 1, max: 4 }) })
      .map((e) => ({ _tag: "TokenFault" as const, ...e }))
  },
  {
    weight: 2,
    arbitrary: FastCheck.record({ gapMinutes: gap, fault: faultArb, count: FastCheck.integer({ min: 1, max: 2 }) })
      .map((e) => ({ _tag: "ApiFault" as const, ...e }))
  },
  { weight: 1, arbitrary: gap.map((gapMinutes) => ({ _tag: "ApiUnauthorized" as const, gapMinutes })) },
  { weight: 1, arbitrary: gap.map((gapMinutes) => ({ _tag: "Revoke" as const, gapMinutes })) },
  {
    weight: 1,
    arbitrary: FastCheck.record({ gapMinutes: gap, seconds: lifetimeArb }).map((e) => ({
      _tag: "Lifetime" as const,
      ...e
    }))
  }
)

const scenarioArb = FastCheck.record({
  lifetime: lifetimeArb,
  events: FastCheck.array(eventArb, { minLength: 20, maxLength: 90 })
})

/** One request, time moved a second at a time until it ends. */
const request = (evc: EvcNetClient.Service) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(evc.get("/demo/whoami"))
    let seconds = 0
    yield* Effect.yieldNow()
    while (fiber.unsafePoll() === null && seconds <= REQUEST_BOUND_SECONDS) {
      yield* TestClock.adjust("1 second")
      seconds++
    }
    const exit = fiber.unsafePoll() ?? (yield* Fiber.interrupt(fiber))
    return { exit, seconds }
  })

describe("soak", () => {
  it.scoped.prop(
    `${DAYS} simulated days of random faults, lifetimes and requests`,
    { scenario: scenarioArb },
    ({ scenario }) => {
      const logged: Array<string> = []
      const capture = Logger.make(({ annotations, cause, message }) =>
        void logged.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }), Cause.pretty(cause))
      )
      return Effect.gen(function*() {
        const context = yield* Layer.build(
          EvcNetTest.layer({ accounts: [{ apiKey: API_KEY }], tokenLifetime: Duration.seconds(scenario.lifetime) })
        )
        const mock = Context.get(context, MockEvcNetModule.MockEvcNet)
        const evc = Context.get(context, EvcNetClient)
        const policy = EvcNetConfigModule.DEFAULT_REFRESH_POLICY

        let elapsed = 0
        let minLifetime = scenario.lifetime
        let injectedTokenFaults = 0
        let authRefusals = 0
        let requests = 0
        const advance = (minutes: number) =>
          Effect.tap(TestClock.adjust(Duration.minutes(minutes)), () => void (elapsed += minutes * 60))

        for (const event of scenario.events) {
          yield* advance(event.gapMinutes)
          switch (event._tag) {
            case "Request": {
              requests++
              const { exit, seconds } = yield* request(evc)
              elapsed += seconds
              // invariant 1: success, or a typed EvcNetError; never a defect or a hang
              expect(seconds).toBeLessThanOrEqual(REQUEST_BOUND_SECONDS)
              if (Exit.isFailure(exit)) {
                const failure = Cause.failureOption(exit.cause)
                expect(failure._tag, Cause.pretty(exit.cause)).toBe("Some")
                if (failure._tag === "Some") expect(EVC_NET_ERRORS.has(failure.value._tag)).toBe(true)
              }
              break
            }
            case "TokenFault":
              injectedTokenFaults += event.count
              yield* mock.failNext("token", event.count, event.fault)
              break
            case "ApiFault":
              yield* mock.failNext("api", event.count, event.fault)
              break
            case "ApiUnauthorized":
              authRefusals++
              yield* mock.failNext("api", 1, {
                status: 401,
                headers: { "www-authenticate": "Bearer error=\"invalid_token\"" }
              })
              break
            case "Revoke":
              authRefusals++
              yield* mock.revokeAll
              break
            case "Lifetime":
              minLifetime = Math.min(minLifetime, event.seconds)
              yield* mock.setTokenLifetime(Duration.seconds(event.seconds))
              break
          }
        }
        if (elapsed < DAYS * 86_400) yield* advance(Math.ceil((DAYS * 86_400 - elapsed) / 60))

        // invariant 2: token requests bounded by the schedule, the refusals and the faults
        const refreshEvery = minLifetime - Math.min(Duration.toSeconds(policy.refreshBefore), minLifetime / 2)
        const scheduled = Math.ceil(elapsed / refreshEvery) + 2
        const bound = scheduled + authRefusals + injectedTokenFaults + requests
        const counters = yield* mock.counters
        expect(counters.tokenRequests).toBeLessThanOrEqual(bound)

        // invariant 3: once faults stop, the client recovers within one backoff cap
        yield* mock.clearFaults
        yield* TestClock.adjust(policy.retryCap)
        const { exit } = yield* request(evc)
        expect(Exit.isSuccess(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toBe(true)

        // invariant 4: no log line of the whole week carried a secret
        expect(logged.length).toBeGreaterThan(0)
        for (const line of logged) {
          expect(line).not.toContain(API_KEY)
          expect(line).not.toContain(BASIC)
          expect(line).not.toMatch(/mock-\d+-[0-9a-f]{8}-/)
        }
      }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
    },
    { timeout: Math.max(120_000, RUNS * 20_000), fastCheck: { numRuns: RUNS, seed: SEED } }
  )
})
