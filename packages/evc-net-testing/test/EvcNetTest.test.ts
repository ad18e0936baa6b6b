import { describe, expect, it } from "@effect/vitest"
import { EvcNetClient, TokenCache } from "effect-evc-net"
import { EvcNetTest, MockEvcNet } from "effect-evc-net-testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"

const DemoChargers = Schema.Struct({
  notice: Schema.String,
  chargers: Schema.Array(Schema.Struct({ id: Schema.String, status: Schema.String }))
})

describe("EvcNetTest.layer", () => {
  it.effect("runs a program against the stand-in in one line", () =>
    Effect.gen(function*() {
      const evc = yield* EvcNetClient
      const { chargers } = yield* evc.get("/demo/chargers", { schema: DemoChargers })
      expect(chargers.map((charger) => charger.id)).toContain("DEMO-CP-001")
      expect((yield* (yield* MockEvcNet).counters).tokensIssued).toBe(1)
    }).pipe(Effect.provide(EvcNetTest.layer())))

  it.scoped("token expiry follows TestClock: the cache refreshes in the background and the API sees no 401", () =>
    Effect.gen(function*() {
      const evc = yield* EvcNetClient
      const mock = yield* MockEvcNet
      for (let minute = 0; minute < 180; minute++) {
        yield* evc.get("/demo/whoami")
        yield* TestClock.adjust("1 minute")
      }
      const counters = yield* mock.counters
      // 1-hour tokens refreshed 5 minutes early: 1 + floor(180 / 55)
      expect(counters.tokensIssued).toBe(4)
      expect(counters.apiByStatus[401]).toBeUndefined()
      expect(counters.apiByStatus[200]).toBe(180)
    }).pipe(Effect.provide(EvcNetTest.layer())))

  it.scoped("a revoked token is recovered by one refresh", () =>
    Effect.gen(function*() {
      const evc = yield* EvcNetClient
      const mock = yield* MockEvcNet
      yield* evc.get("/demo/whoami")
      yield* mock.revokeAll
      yield* evc.get("/demo/whoami")
      expect(yield* mock.counters).toMatchObject({ tokensIssued: 2, apiByStatus: { 200: 2, 401: 1 } })
    }).pipe(Effect.provide(EvcNetTest.layer())))

  it.scoped("a cold start rides out two 503s from the token endpoint", () =>
    Effect.gen(function*() {
      const mock = yield* MockEvcNet
      yield* mock.failNext("token", 2, { status: 503, body: "maintenance" })
      const fiber = yield* Effect.fork((yield* TokenCache).get)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      expect((yield* mock.counters).tokenRequests).toBe(3)
    }).pipe(Effect.provide(EvcNetTest.layer())))

  it.scoped("a token endpoint that keeps failing is retried by the cache only, not again by the request policy", () =>
    Effect.gen(function*() {
      const mock = yield* MockEvcNet
      yield* mock.failNext("token", 10, "drop")
      const fiber = yield* Effect.fork(Effect.flip((yield* EvcNetClient).get("/demo/whoami")))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("NetworkError")
      // coldAttempts (3) token requests for the one GET, and no API request
      expect(yield* mock.counters).toMatchObject({ tokenRequests: 3, apiRequests: 0 })
    }).pipe(Effect.provide(EvcNetTest.layer())))

  it.effect("bad credentials surface as InvalidCredentialsError", () =>
    Effect.gen(function*() {
      const evc = yield* EvcNetClient
      const error = yield* Effect.flip(evc.get("/demo/whoami"))
      expect(error._tag).toBe("InvalidCredentialsError")
    }).pipe(Effect.provide(EvcNetTest.layer({ credentials: { apiKey: "wrong-key" } }))))
})
