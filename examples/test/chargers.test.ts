/**
 * The `testing` example: how to test your own program that uses
 * effect-evc-net, with no network and a mocked clock.
 *
 * `EvcNetTest.layer()` gives your program an `EvcNetClient` wired to the
 * embedded EVC-net stand-in in the same process (no socket), plus the
 * stand-in itself (`MockEvcNet`) for its controls and counters. Everything,
 * the stand-in's token expiry included, follows Effect's `Clock`, so under
 * `it.effect` / `it.scoped` (which provide `TestClock`) hours pass in
 * microseconds with `TestClock.adjust`.
 *
 * Run it with the rest: `npm test`, or `npx vitest run --project examples`.
 */
import { describe, expect, it } from "@effect/vitest"
import { EvcNetTest, MockEvcNet } from "effect-evc-net-testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Chargers } from "../src/chargers.js"

// Your service over the test layer: one line. `provideMerge` keeps MockEvcNet
// visible to the test for its controls and counters.
const TestLive = Chargers.layer.pipe(Layer.provideMerge(EvcNetTest.layer()))

describe("Chargers (an application service built on EvcNetClient)", () => {
  it.scoped("lists the chargers a driver can use now", () =>
    Effect.gen(function*() {
      const chargers = yield* Chargers
      const available = yield* chargers.available
      expect(available.map((charger) => charger.id)).toEqual(["DEMO-CP-001"])
    }).pipe(Effect.provide(TestLive)))

  it.scoped("keeps working for hours: tokens expire and are refreshed in the background, no call sees a 401", () =>
    Effect.gen(function*() {
      const chargers = yield* Chargers
      const mock = yield* MockEvcNet
      for (let step = 0; step < 18; step++) {
        yield* chargers.list
        yield* TestClock.adjust("10 minutes") // 3 hours in all, in no real time
      }
      const counters = yield* mock.counters
      expect(counters.apiByStatus).toEqual({ 200: 18 })
      // 1-hour tokens, refreshed 5 minutes before they expire: 1 + 3
      expect(counters.tokensIssued).toBe(4)
    }).pipe(Effect.provide(TestLive)))

  it.scoped("rides out a brief outage: two 503s are retried with backoff", () =>
    Effect.gen(function*() {
      const chargers = yield* Chargers
      const mock = yield* MockEvcNet
      yield* mock.failNext("api", 2, { status: 503, body: "maintenance" })
      // the retries sleep on the Clock: run the call in a fiber and move time on
      const fiber = yield* Effect.fork(chargers.list)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toHaveLength(3)
      expect((yield* mock.counters).apiByStatus).toEqual({ 200: 1, 503: 2 })
    }).pipe(Effect.provide(TestLive)))

  it.scoped("an answer of the wrong shape is an ApiDecodeError naming the field, not a crash", () =>
    Effect.gen(function*() {
      const chargers = yield* Chargers
      const mock = yield* MockEvcNet
      // replace the stand-in's answer with one your code must survive
      yield* mock.route("GET", "/demo/chargers", () => ({ body: { chargers: [{ id: "X", status: "Exploded" }] } }))
      const error = yield* Effect.flip(chargers.list)
      expect(error._tag).toBe("ApiDecodeError")
      expect(error.message).toContain("chargers.0")
    }).pipe(Effect.provide(TestLive)))

  it.scoped("a wrong API key fails with InvalidCredentialsError", () =>
    Effect.gen(function*() {
      const chargers = yield* Chargers
      const error = yield* Effect.flip(chargers.list)
      expect(error._tag).toBe("InvalidCredentialsError")
    }).pipe(
      Effect.provide(Chargers.layer.pipe(Layer.provideMerge(EvcNetTest.layer({ credentials: { apiKey: "wrong" } }))))
    ))
})
