import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"

/**
 * @internal
 * A timeout for many concurrent effects that shares one timer among them.
 *
 * `Effect.timeoutFail` races every effect against its own sleeping fiber: two
 * forked fibers, a timer set and cleared, and a join of fiber refs, per call
 * (packages/bench, table 2b: several times what one forked fiber costs).
 * Here each effect runs in one fiber of its own and is entered, with
 * its deadline, in a list ordered by deadline; a single sleeping fiber wakes at
 * the earliest deadline, interrupts whatever is past its deadline, and sleeps
 * until the next. With a constant duration and a clock that only moves forward,
 * a new deadline is never earlier than those already listed, so entering one is
 * O(1) and the timer is set only when the list was empty (or the clock went
 * back) and after it fires.
 *
 * That fiber is started with `Runtime.runFork` from the caller's runtime (its
 * services, fiber refs, span and interruptibility) inside `Effect.async`'s
 * registration: the fiber and the canceler that interrupts it come into being
 * together, so no interruption can fall between them and no
 * `Effect.uninterruptibleMask` is needed. It costs what a bare `forkDaemon`
 * does; the masked fork it replaces cost 16-29 % more (packages/bench, table 2c).
 *
 * Time is the `clock` given (the layer's, so `TestClock` drives it in tests). A
 * timeout fires at its deadline, never before; should the clock be set back,
 * an entry whose deadline is earlier than the planned wake-up re-plans it.
 */
export interface Deadlines {
  readonly timeoutFail: <A, E, R, E1>(
    effect: Effect.Effect<A, E, R>,
    onTimeout: () => E1
  ) => Effect.Effect<A, E | E1, R>
  /** For tests: deadlines being watched, and whether a timer is set. */
  readonly unsafeState: () => { readonly watched: number; readonly timerSet: boolean }
}

interface Entry {
  readonly deadline: number
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  timedOut: boolean
  listed: boolean
  prev: Entry | undefined
  next: Entry | undefined
}

/** @internal */
export const make = (duration: Duration.Duration): Effect.Effect<Deadlines> =>
  Effect.zipWith(Effect.clock, Effect.runtime<never>(), (clock, runtime) => unsafeMake(duration, clock, runtime))

const unsafeMake = (duration: Duration.Duration, clock: Clock.Clock, runtime: Runtime.Runtime<never>): Deadlines => {
  const now = (): number => clock.unsafeCurrentTimeMillis()
  const sleep = (millis: number): Effect.Effect<void> => clock.sleep(Duration.millis(millis))
  const millis = Duration.toMillis(duration)
  const runFork = Runtime.runFork(runtime)

  let head: Entry | undefined
  let tail: Entry | undefined
  let timer: Fiber.RuntimeFiber<void> | undefined
  let plannedAt = Infinity

  const unlink = (entry: Entry): void => {
    if (!entry.listed) return
    entry.listed = false
    if (entry.prev === undefined) head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = entry.next = undefined
    // nothing left to watch: stop the timer, so that an idle program has none pending
    if (head === undefined) cancelTimer()
  }

  const cancelTimer = (): void => {
    if (timer !== undefined) {
      timer.unsafeInterruptAsFork(FiberId.none)
      timer = undefined
    }
    plannedAt = Infinity
  }

  const plan = (at: number): void => {
    cancelTimer()
    plannedAt = at
    const fiber: Fiber.RuntimeFiber<void> = runFork(
      Effect.zipRight(sleep(Math.max(0, at - now())), Effect.sync((): void => fire(fiber)))
    )
    timer = fiber
  }

  const fire = (self: Fiber.RuntimeFiber<void>): void => {
    if (timer !== self) return
    timer = undefined
    plannedAt = Infinity
    const t = now()
    while (head !== undefined && head.deadline <= t) {
      const entry = head
      unlink(entry)
      entry.timedOut = true
      entry.fiber.unsafeInterruptAsFork(FiberId.none)
    }
    if (head !== undefined) plan(head.deadline)
  }

  const enter = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Entry => {
    const entry: Entry = {
      deadline: now() + millis,
      fiber,
      timedOut: false,
      listed: true,
      prev: undefined,
      next: undefined
    }
    // kept in deadline order; a new deadline is normally the latest, so this scan stops at once
    let after = tail
    while (after !== undefined && after.deadline > entry.deadline) after = after.prev
    entry.prev = after
    entry.next = after === undefined ? head : after.next
    if (entry.prev === undefined) head = entry
    else entry.prev.next = entry
    if (entry.next === undefined) tail = entry
    else entry.next.prev = entry
    if (entry.deadline < plannedAt) plan(entry.deadline)
    return entry
  }

  const timeoutFail = <A, E, R, E1>(
    effect: Effect.Effect<A, E, R>,
    onTimeout: () => E1
  ): Effect.Effect<A, E | E1, R> =>
    Effect.withFiberRuntime<A, E | E1, R>((parent, status) => {
      const here = Runtime.make({
        context: parent.currentContext as Context.Context<R>,
        fiberRefs: parent.getFiberRefs(),
        runtimeFlags: status.runtimeFlags
      })
      return Effect.async<A, E | E1>((resume) => {
        const fiber = Runtime.runFork(here, effect)
        const entry = enter(fiber as Fiber.RuntimeFiber<unknown, unknown>)
        fiber.addObserver((exit) => {
          unlink(entry)
          resume(
            entry.timedOut && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
              ? Effect.fail(onTimeout())
              : exit
          )
        })
        return Effect.suspend(() => {
          unlink(entry)
          return Fiber.interrupt(fiber)
        })
      })
    })

  const unsafeState = () => {
    let watched = 0
    for (let entry = head; entry !== undefined; entry = entry.next) watched++
    return { watched, timerSet: timer !== undefined }
  }

  return { timeoutFail, unsafeState }
}
