/**
 * The shared-timer timeout behind `requestTimeout` (internal/deadlines.ts),
 * under `TestClock`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Deadlines from "../src/internal/deadlines.js"

class TimedOut extends Data.TaggedError("TimedOut")<{ readonly name: string }> {}
class Boom extends Data.TaggedError("Boom") {}
class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
const level = FiberRef.unsafeMake(0)

const make = Deadlines.make(Duration.seconds(30))

/** `effect` under the timeout, forked; its outcome as an Exit. */
const start = <A, E>(deadlines: Deadlines.Deadlines, name: string, effect: Effect.Effect<A, E>) =>
  Effect.fork(Effect.exit(deadlines.timeoutFail(effect, () => new TimedOut({ name }))))

describe("Deadlines", () => {
  it.effect("an effect that outlives the duration fails with onTimeout at its deadline, not a millisecond before", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      let interrupted = false
      const fiber = yield* start(
        deadlines,
        "a",
        Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted = true))
      )
      yield* TestClock.adjust("29999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toEqual(Exit.fail(new TimedOut({ name: "a" })))
      expect(interrupted).toBe(true)
    }))

  it.effect("concurrent effects each time out at their own deadline", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const a = yield* start(deadlines, "a", Effect.never)
      yield* TestClock.adjust("10 seconds")
      const b = yield* start(deadlines, "b", Effect.never)
      const c = yield* start(deadlines, "c", Effect.as(Effect.sleep("35 seconds"), "c done"))
      yield* TestClock.adjust("20 seconds") // t = 30 s: a's deadline
      expect(yield* Fiber.join(a)).toEqual(Exit.fail(new TimedOut({ name: "a" })))
      expect(b.unsafePoll()).toBeNull()
      yield* TestClock.adjust("9999 millis")
      expect(b.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis") // t = 40 s: b's and c's deadline
      expect(yield* Fiber.join(b)).toEqual(Exit.fail(new TimedOut({ name: "b" })))
      expect(yield* Fiber.join(c)).toEqual(Exit.fail(new TimedOut({ name: "c" })))
    }))

  it.effect("effects that end in time keep their outcome and leave no timer behind", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const ok = yield* start(deadlines, "ok", Effect.as(Effect.sleep("29 seconds"), 42))
      const failed = yield* start(
        deadlines,
        "failed",
        Effect.zipRight(Effect.sleep("1 second"), Effect.fail(new Boom()))
      )
      const died = yield* start(deadlines, "died", Effect.zipRight(Effect.sleep("2 seconds"), Effect.die("defect")))
      yield* TestClock.adjust("29 seconds")
      expect(yield* Fiber.join(ok)).toEqual(Exit.succeed(42))
      expect(yield* Fiber.join(failed)).toEqual(Exit.fail(new Boom()))
      expect(yield* Fiber.join(died)).toEqual(Exit.die("defect"))
      // no deadline left to watch: no timer keeps an idle program alive
      expect(deadlines.unsafeState()).toEqual({ watched: 0, timerSet: false })
    }))

  it.effect("an effect interrupted by something else stays interrupted (it is not reported as a timeout)", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const exit = yield* Effect.exit(deadlines.timeoutFail(Effect.interrupt, () => new TimedOut({ name: "x" })))
      expect(Exit.isInterrupted(exit)).toBe(true)
    }))

  it.effect("interrupting the caller interrupts the effect and forgets its deadline", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const started = yield* Deferred.make<void>()
      let interrupted = false
      const fiber = yield* Effect.fork(
        deadlines.timeoutFail(
          Effect.zipRight(
            Deferred.succeed(started, undefined),
            Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted = true))
          ),
          () => new TimedOut({ name: "x" })
        )
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(interrupted).toBe(true)
      expect(deadlines.unsafeState()).toEqual({ watched: 0, timerSet: false })
    }))

  it.effect("the effect runs with the caller's services, fiber refs, log annotations and span", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const seen = yield* deadlines.timeoutFail(
        Effect.all({
          service: Greeting,
          ref: FiberRef.get(level),
          annotations: Effect.logAnnotations,
          span: Effect.map(Effect.currentSpan, (span) => span.name)
        }),
        () => new TimedOut({ name: "x" })
      ).pipe(
        Effect.provideService(Greeting, "hello"),
        Effect.locally(level, 7),
        Effect.annotateLogs("requestId", "r-1"),
        Effect.withSpan("caller")
      )
      expect(seen.service).toBe("hello")
      expect(seen.ref).toBe(7)
      expect(HashMap.get(seen.annotations, "requestId")).toEqual(Option.some("r-1"))
      expect(seen.span).toBe("caller")
    }))

  it.effect("an effect started inside an uninterruptible region is not timed out from outside it", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.exit(Effect.uninterruptible(
        deadlines.timeoutFail(Effect.as(Deferred.await(gate), "done"), () => new TimedOut({ name: "x" }))
      )))
      yield* TestClock.adjust("1 minute")
      expect(fiber.unsafePoll()).toBeNull()
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(fiber)).toEqual(Exit.succeed("done"))
    }))

  it.effect("a clock set back still times an effect out at its own deadline", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      yield* TestClock.setTime(100_000)
      const late = yield* start(deadlines, "late", Effect.never) // deadline 130 s, timer planned for it
      yield* TestClock.setTime(0)
      const early = yield* start(deadlines, "early", Effect.never) // deadline 30 s: earlier than the plan
      yield* TestClock.adjust("30 seconds")
      expect(yield* Fiber.join(early)).toEqual(Exit.fail(new TimedOut({ name: "early" })))
      expect(late.unsafePoll()).toBeNull()
      yield* TestClock.adjust("100 seconds")
      expect(yield* Fiber.join(late)).toEqual(Exit.fail(new TimedOut({ name: "late" })))
    }))

  it.effect("a thousand concurrent effects: the hung ones time out, the others finish, one timer at a time", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const fibers = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        (i) =>
          start(
            deadlines,
            `#${i}`,
            i % 10 === 0 ? Effect.never : Effect.as(Effect.sleep(Duration.millis(i * 20)), i)
          )
      )
      yield* TestClock.adjust("1 second")
      // effects still running, one deadline timer among their own sleeps
      const pending = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      expect(pending.filter((at) => at === 30_000)).toHaveLength(1)
      const finished = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 10 !== 0 && i * 20 <= 1000)
      expect(deadlines.unsafeState()).toEqual({ watched: 1000 - finished.length, timerSet: true })
      yield* TestClock.adjust("29 seconds")
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      exits.forEach((exit, i) =>
        expect(exit).toEqual(
          i % 10 === 0 || i * 20 > 30_000 ? Exit.fail(new TimedOut({ name: `#${i}` })) : Exit.succeed(i)
        )
      )
      expect(deadlines.unsafeState()).toEqual({ watched: 0, timerSet: false })
    }))
})
