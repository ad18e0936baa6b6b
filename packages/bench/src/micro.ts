/**
 * In-process measurements: the token cache's hot path beside its floors, and
 * the heap over many requests and many refresh cycles.
 */
import { OAuth2Client, OAuth2Fetch } from "@badgateway/oauth2-client"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Credentials, EvcNetClient, EvcNetConfig, TokenCache } from "effect-evc-net"
import type { MockEvcNet } from "effect-evc-net-testing"
import { EvcNetTest, MockEvcNetModule } from "effect-evc-net-testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as Contenders from "./contenders.js"
import type { ServerProcess } from "./ServerProcess.js"
import { interleavedMedians, interleavedSamples, median, roundRatios } from "./stats.js"

const gc = () => (globalThis.gc as () => void)()
const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** A token cache wired to an in-process stand-in (no socket). */
const inProcessCache = (mock: MockEvcNet.Service) =>
  TokenCache.layer.pipe(
    Layer.provide(Layer.mergeAll(
      Credentials.layer({ apiKey: mock.accounts[0].apiKey }),
      EvcNetConfig.layer({ tokenUrl: mock.urls.tokenUrl, apiUrl: mock.urls.apiUrl }),
      Layer.succeed(HttpClient.HttpClient, EvcNetTest.httpClient(mock))
    ))
  )

interface HotPathResult {
  readonly name: string
  readonly floor: boolean
  readonly opsPerSecond: number
}

/** `TokenCache.get` on a fresh token beside an `Effect.succeed` loop and the promise caches people write. */
export const hotPath = async (ops: number, rounds: number): Promise<ReadonlyArray<HotPathResult>> => {
  const mock = await Effect.runPromise(MockEvcNetModule.make())
  const runtime = ManagedRuntime.make(inProcessCache(mock))
  const cache = await runtime.runPromise(TokenCache)
  await runtime.runPromise(cache.get)

  // the hand-written promise cache around openid-client, token in hand
  const cached = { token: "t", expiresAt: Date.now() + 3_600_000 }
  const promiseCache = async () => (Date.now() < cached.expiresAt ? cached.token : "refetch")

  // OAuth2Fetch with a fresh token
  const client = new OAuth2Client({ server: "http://127.0.0.1", clientId: "1" })
  const wrapper = new OAuth2Fetch({
    client,
    getNewToken: async () => ({ accessToken: "t", expiresAt: Date.now() + 3_600_000, refreshToken: null })
  })
  await wrapper.getToken()

  const timed = async (run: () => Promise<unknown>) => {
    const start = performance.now()
    await run()
    return ops / ((performance.now() - start) / 1000)
  }
  const candidates: Array<{ name: string; floor: boolean; run: () => Promise<unknown> }> = [
    {
      name: "Effect.succeed in an Effect.gen loop (floor)",
      floor: true,
      run: () =>
        Effect.runPromise(Effect.gen(function*() {
          for (let i = 0; i < ops; i++) yield* Effect.succeed(i)
        }))
    },
    {
      name: "TokenCache.get in an Effect.gen loop (ours)",
      floor: false,
      run: () =>
        runtime.runPromise(Effect.gen(function*() {
          for (let i = 0; i < ops; i++) yield* cache.get
        }))
    },
    {
      name: "await of a hand-written promise cache",
      floor: false,
      run: async () => {
        for (let i = 0; i < ops; i++) await promiseCache()
      }
    },
    {
      name: "await OAuth2Fetch.getToken()",
      floor: false,
      run: async () => {
        for (let i = 0; i < ops; i++) await wrapper.getToken()
      }
    }
  ]
  const medians = await interleavedMedians(candidates.length, rounds, (i) => timed(candidates[i].run))
  await runtime.dispose()
  return candidates.map((c, i) => ({ name: c.name, floor: c.floor, opsPerSecond: medians[i] }))
}

/**
 * An `HttpClient` that answers every request on the next turn of the event
 * loop, without a socket: what is left is the client's own CPU per request.
 */
const instantHttpClient = HttpClient.make((request) =>
  Effect.async<HttpClientResponse.HttpClientResponse>((resume) => {
    const body = request.url.endsWith("/oauth/v2/token")
      ? JSON.stringify({ access_token: "t", token_type: "Bearer", expires_in: 3600 })
      : JSON.stringify({ id: "1", name: "demo" })
    const timer = setImmediate(() =>
      resume(Effect.succeed(HttpClientResponse.fromWeb(
        request,
        new Response(body, { status: 200, headers: { "content-type": "application/json" } })
      )))
    )
    return Effect.sync(() => clearImmediate(timer))
  })
)

interface CpuResult {
  readonly name: string
  readonly microsPerRequest: number
}

/**
 * Client CPU per request, in process: the platform floor with one thing added
 * at a time (a span, a forked fiber, `Effect.timeoutFail`, no span) beside ours
 * with one thing taken away at a time. Interleaved rounds at concurrency 32; medians.
 */
export const clientCpu = async (rounds: number, millis: number): Promise<ReadonlyArray<CpuResult>> => {
  const apiUrl = "http://127.0.0.1/api"
  const clientLayer = Layer.succeed(HttpClient.HttpClient, instantHttpClient)
  const platform = ManagedRuntime.make(clientLayer)
  const floorGet = Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(
      HttpClientRequest.get(`${apiUrl}${Contenders.PATH}`).pipe(
        HttpClientRequest.bearerToken("t"),
        HttpClientRequest.acceptJson
      )
    ).pipe(Effect.flatMap((response) => response.json), Effect.scoped))
  const ours = (config: EvcNetConfig.Options) =>
    ManagedRuntime.make(
      EvcNetClient.layerWith({
        credentials: { apiKey: "k" },
        config: { ...config, tokenUrl: "http://127.0.0.1/oauth/v2/token", apiUrl }
      }).pipe(Layer.provide(clientLayer))
    )
  const oursDefault = ours({})
  const oursNoTimeout = ours({ requestTimeout: Duration.infinity })
  const oursGet = Effect.flatMap(EvcNetClient, (evc) => evc.get(Contenders.PATH))
  const untraced = Effect.withTracerEnabled(false)
  const candidates: Array<{ name: string; run: () => Promise<unknown> }> = [
    { name: "@effect/platform HttpClient, static token (floor)", run: () => platform.runPromise(floorGet) },
    {
      name: "floor inside one more span (Effect.withSpan)",
      run: () => platform.runPromise(Effect.withSpan(floorGet, "outer", { captureStackTrace: false }))
    },
    {
      name: "floor in a forked fiber (Effect.forkDaemon, Fiber.await)",
      run: () =>
        platform.runPromise(Effect.flatMap(Effect.forkDaemon(floorGet), (fiber) => Effect.flatten(Fiber.await(fiber))))
    },
    {
      // what ours used before its shared timer: two fibers and a timer per call
      name: "floor under Effect.timeoutFail (30 s)",
      run: () =>
        platform.runPromise(Effect.timeoutFail(floorGet, { duration: "30 seconds", onTimeout: () => "timed out" }))
    },
    { name: "floor, tracing off", run: () => platform.runPromise(untraced(floorGet)) },
    { name: "effect-evc-net EvcNetClient (ours)", run: () => oursDefault.runPromise(oursGet) },
    { name: "ours, requestTimeout: Duration.infinity", run: () => oursNoTimeout.runPromise(oursGet) },
    { name: "ours, tracing off", run: () => oursDefault.runPromise(untraced(oursGet)) },
    { name: "ours, tracing off and no timeout", run: () => oursNoTimeout.runPromise(untraced(oursGet)) }
  ]
  const perRequest = async (run: () => Promise<unknown>, ms: number) => {
    let count = 0
    const start = performance.now()
    const end = start + ms
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (performance.now() < end) {
        await run()
        count++
      }
    }))
    return (performance.now() - start) * 1000 / count
  }
  for (const candidate of candidates) await perRequest(candidate.run, 200) // warm-up
  const medians = await interleavedMedians(candidates.length, rounds, (i) => perRequest(candidates[i].run, millis))
  await Promise.all([platform.dispose(), oursDefault.dispose(), oursNoTimeout.dispose()])
  return candidates.map((c, i) => ({ name: c.name, microsPerRequest: medians[i] }))
}

/**
 * Per call, in process: an effect answered on the next turn of the event loop,
 * run in place, and in a fiber of its own three ways, the last being how ours
 * runs each attempt under its timeout (internal/deadlines.ts).
 * Short interleaved rounds at concurrency 32; medians and ratios per round.
 */
export const fiberStart = async (rounds: number, calls: number) => {
  const nextTurn = Effect.async<number>((resume) => {
    const timer = setImmediate(() => resume(Effect.succeed(1)))
    return Effect.sync(() => clearImmediate(timer))
  })
  const candidates: ReadonlyArray<{ name: string; effect: Effect.Effect<number> }> = [
    { name: "in place (no fiber)", effect: nextTurn },
    {
      name: "Effect.forkDaemon, awaited through an observer (not safe if the caller is interrupted in between)",
      effect: Effect.flatMap(Effect.forkDaemon(nextTurn), (fiber) =>
        Effect.async<number>((resume) => {
          fiber.addObserver(resume)
        }))
    },
    {
      // the shape of internal/deadlines.ts before b465f81
      name: "the same, made safe with Effect.uninterruptibleMask (ours before)",
      effect: Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.forkDaemon(restore(nextTurn)), (fiber) =>
          Effect.flatMap(
            restore(Effect.async<Exit.Exit<number>>((resume) => {
              fiber.addObserver((exit) => resume(Effect.succeed(exit)))
            })),
            (exit) => exit
          ))
      )
    },
    {
      name: "Runtime.runFork of the caller's runtime inside Effect.async (ours)",
      effect: Effect.flatMap(Effect.runtime<never>(), (runtime) =>
        Effect.async<number>((resume) => {
          Runtime.runFork(runtime, nextTurn).addObserver(resume)
        }))
    }
  ]
  const perCall = async (effect: Effect.Effect<number>) => {
    const start = performance.now()
    await Promise.all(Array.from({ length: 32 }, () =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < calls / 32; i++) yield* effect
      }))))
    return (performance.now() - start) * 1000 / calls
  }
  for (const candidate of candidates) await perCall(candidate.effect) // warm-up
  const samples = await interleavedSamples(candidates.length, rounds, (i) => perCall(candidates[i].effect))
  return candidates.map((c, i) => ({
    name: c.name,
    microsPerCall: median(samples[i]),
    overForked: roundRatios(samples[i], samples[1]).median
  }))
}

/** Heap after a full GC: after a warm-up, half-way and at the end of `total` requests through ours. */
export const heapOverRequests = async (server: ServerProcess, total: number) => {
  const ours = Contenders.all.find((c) => c.name === Contenders.OURS)
  if (ours === undefined) throw new Error("no contender named ours")
  const instance = await ours.make(server)
  const run = async (n: number) => {
    let left = n
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (left-- > 0) await instance.request()
    }))
  }
  await run(1_000)
  const start = heap()
  await run(total / 2)
  const half = heap()
  await run(total / 2)
  const end = heap()
  await instance.close()
  return { start, half, end }
}

/** Heap after a warm-up, half-way and at the end of `cycles` runs of `cycle`. */
const heapOver = <E, R>(cycle: Effect.Effect<unknown, E, R>, cycles: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) yield* cycle
    const start = heap()
    for (let i = 0; i < cycles / 2; i++) yield* cycle
    const half = heap()
    for (let i = 0; i < cycles / 2; i++) yield* cycle
    return { start, half, end: heap() }
  })

/** Heap over `cycles` bare `TestClock.adjust` calls: Effect's own share of the refresh-cycle run. */
export const heapOverTestClock = (cycles: number) =>
  Effect.runPromise(heapOver(TestClock.adjust("1 hour"), cycles).pipe(Effect.provide(TestContext.TestContext)))

/** Heap over `cycles` token lifetimes under `TestClock`: each one a background refresh. */
export const heapOverRefreshCycles = (cycles: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const mock = yield* MockEvcNetModule.make({ tokenLifetime: "1 hour" })
      const cache = yield* Effect.provide(TokenCache, yield* Layer.build(inProcessCache(mock)))
      yield* cache.get
      const measured = yield* heapOver(Effect.zipRight(TestClock.adjust("1 hour"), cache.get), cycles)
      const issued = (yield* mock.counters).tokensIssued
      if (issued < cycles) throw new Error(`expected a refresh per cycle, saw ${issued} tokens for ${cycles} cycles`)
      return measured
    }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))
  )
