/**
 * effect-evc-net side by side with the OAuth 2.0 clients people use today,
 * all in one process run against one loopback stand-in in a child process.
 *
 *   npm run bench          # full: a few minutes
 *   npm run bench:quick    # under a minute; CI runs it as a smoke check
 *
 * Prints markdown tables and writes them as JSON to `results/<mode>.json`.
 * Ratios, not absolute numbers, are what carry over between machines.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import * as Contenders from "./contenders.js"
import * as Micro from "./micro.js"
import type { ServerProcess } from "./ServerProcess.js"
import * as Server from "./ServerProcess.js"
import { formatTable, interleavedSamples, median, percentile, roundRatios, type Table } from "./stats.js"

const quick = process.argv.includes("--quick")

const settings = quick
  ? {
    coldStart: [1_000],
    rounds: 3,
    roundMillis: 300,
    throughputConcurrency: 32,
    cpuMillis: 200,
    crossingMillis: 2_000,
    hotPathOps: 100_000,
    fiberRounds: 9,
    fiberCalls: 2_000,
    memoryRequests: 5_000,
    refreshCycles: 200
  }
  : {
    coldStart: [1_000, 10_000],
    rounds: 7,
    roundMillis: 2_000,
    throughputConcurrency: 32,
    cpuMillis: 1_000,
    crossingMillis: 6_000,
    hotPathOps: 2_000_000,
    fiberRounds: 41,
    fiberCalls: 4_000,
    memoryRequests: 100_000,
    refreshCycles: 10_000
  }

/** Runs `request` from `concurrency` loops for `millis`; statuses and latencies. */
const runFor = async (request: () => Promise<number>, concurrency: number, millis: number) => {
  const latencies: Array<number> = []
  const statuses = new Map<number, number>()
  const end = performance.now() + millis
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const start = performance.now()
      const status = await request()
      latencies.push(performance.now() - start)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  }))
  return { latencies, statuses, count: latencies.length }
}

const nonOk = (statuses: Map<number, number>) =>
  [...statuses].reduce((sum, [status, n]) => (status >= 200 && status < 300 ? sum : sum + n), 0)

// 1 ---------------------------------------------------------------------------
const coldStart = async (server: ServerProcess): Promise<Table> => {
  const rows: Table["rows"] = []
  for (const size of settings.coldStart) {
    for (const contender of Contenders.all) {
      await server.configure(3600, 0)
      await server.reset()
      const instance = await contender.make(server)
      const statuses = await Promise.all(Array.from({ length: size }, () => instance.request()))
      const counters = await server.counters()
      await instance.close()
      rows.push([
        contender.name,
        size,
        counters.tokenRequests,
        statuses.filter((status) => status !== 200).length
      ])
    }
  }
  return {
    title: "1. Cold start: concurrent first requests",
    note: "Token requests the server saw, and requests that did not end in 200. Floors fetch their one token by hand.",
    columns: ["contender", "concurrent requests", "token requests", "errors"],
    rows
  }
}

// 2 ---------------------------------------------------------------------------
const throughput = async (server: ServerProcess): Promise<Table> => {
  await server.configure(3600, 0)
  const contenders = [...Contenders.all, ...Contenders.variants]
  const instances = await Promise.all(contenders.map((contender) => contender.make(server)))
  for (const instance of instances) await runFor(instance.request, settings.throughputConcurrency, 200) // warm-up
  const samples = await interleavedSamples(contenders.length, settings.rounds, async (i) => {
    const run = await runFor(instances[i].request, settings.throughputConcurrency, settings.roundMillis)
    return run.count / (settings.roundMillis / 1000)
  })
  await Promise.all(instances.map((instance) => instance.close()))
  const raw = samples[contenders.findIndex((c) => c.name === Contenders.RAW_FLOOR)]
  const platform = samples[contenders.findIndex((c) => c.name === Contenders.PLATFORM_FLOOR)]
  return {
    title: "2. Steady throughput",
    note:
      `Median of ${settings.rounds} interleaved rounds of ${settings.roundMillis} ms at concurrency ${settings.throughputConcurrency}. ` +
      "Ratios are taken round by round (so that the machine speeding up or slowing down between rounds does not " +
      "move them) and their median given; in brackets the lowest and highest round.",
    columns: ["contender", "requests/s", "× raw fetch floor", "× @effect/platform floor"],
    rows: contenders.map((contender, i) => {
      const toPlatform = roundRatios(samples[i], platform)
      return [
        contender.name,
        Math.round(median(samples[i])),
        roundRatios(samples[i], raw).median.toFixed(2),
        `${toPlatform.median.toFixed(2)} (${toPlatform.min.toFixed(2)}–${toPlatform.max.toFixed(2)})`
      ]
    })
  }
}

const clientCpu = async (): Promise<Table> => {
  const results = await Micro.clientCpu(settings.rounds, settings.cpuMillis)
  const floor = results[0].microsPerRequest
  return {
    title: "2b. Where the time goes: client CPU per request, in process",
    note: `An HttpClient that answers on the next event-loop turn, no socket; median of ${settings.rounds} ` +
      `interleaved rounds of ${settings.cpuMillis} ms at concurrency 32. The floor with one thing added, ` +
      "ours with one thing taken away.",
    columns: ["client", "µs per request", "× floor throughput"],
    rows: results.map((r) => [r.name, r.microsPerRequest.toFixed(1), (floor / r.microsPerRequest).toFixed(2)])
  }
}

const fiberStart = async (): Promise<Table> => {
  const results = await Micro.fiberStart(settings.fiberRounds, settings.fiberCalls)
  return {
    title: "2c. Starting a fiber for an attempt, in process",
    note: `An effect answered on the next event-loop turn, ${settings.fiberCalls.toLocaleString("en")} calls ` +
      `at concurrency 32; median of ${settings.fiberRounds} interleaved rounds, ratios taken round by round.`,
    columns: ["how", "µs per call", "× the bare forked fiber's time"],
    rows: results.map((r) => [r.name, r.microsPerCall.toFixed(2), r.overForked.toFixed(2)])
  }
}

// 3 ---------------------------------------------------------------------------
const expiryCrossing = async (server: ServerProcess): Promise<Table> => {
  const rows: Table["rows"] = []
  for (const contender of Contenders.all.filter((c) => !c.floor)) {
    await server.configure(2, 300)
    const instance = await contender.make(server)
    await instance.request() // the first token: every client waits for it
    await server.reset()
    const run = await runFor(instance.request, 8, settings.crossingMillis)
    const counters = await server.counters()
    await instance.close()
    rows.push([
      contender.name,
      counters.tokenRequests,
      counters.apiByStatus[401] ?? 0,
      nonOk(run.statuses),
      percentile(run.latencies, 0.99).toFixed(1),
      Math.max(...run.latencies).toFixed(1)
    ])
  }
  await server.configure(3600, 0)
  return {
    title: "3. Expiry crossing: 2 s tokens, 300 ms token endpoint",
    note: `${settings.crossingMillis / 1000} s of traffic at concurrency 8 after the first token. ` +
      "A max latency above 300 ms means some request waited for a token.",
    columns: ["contender", "token requests", "401s at the server", "non-2xx to callers", "p99 ms", "max ms"],
    rows
  }
}

// 4 and 5 -----------------------------------------------------------------------
const hotPath = async (): Promise<Table> => {
  const results = await Micro.hotPath(settings.hotPathOps, settings.rounds)
  const floor = results.find((r) => r.floor)?.opsPerSecond ?? 1
  return {
    title: "4. Hot path: a fresh token, in process",
    note: `Median of ${settings.rounds} interleaved rounds of ${settings.hotPathOps.toLocaleString("en")} calls each.`,
    columns: ["operation", "ops/s", "× Effect.succeed floor"],
    rows: results.map((r) => [r.name, Math.round(r.opsPerSecond), (r.opsPerSecond / floor).toFixed(2)])
  }
}

const memory = async (server: ServerProcess): Promise<Table> => {
  await server.configure(3600, 0)
  const requests = await Micro.heapOverRequests(server, settings.memoryRequests)
  const cycles = await Micro.heapOverRefreshCycles(settings.refreshCycles)
  const clockOnly = await Micro.heapOverTestClock(settings.refreshCycles)
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(2)
  return {
    title: "5. Memory: heap used after a full GC (ours)",
    note: "Growth between the half-way and the final checkpoint is what would accumulate. " +
      "The last row is Effect's TestClock alone, which the refresh-cycle run includes.",
    columns: ["run", "start MB", "half-way MB", "end MB", "growth in 2nd half MB"],
    rows: [
      [
        `${settings.memoryRequests.toLocaleString("en")} requests over loopback`,
        ...[requests.start, requests.half, requests.end].map(mb),
        mb(requests.end - requests.half)
      ],
      [
        `${settings.refreshCycles.toLocaleString("en")} refresh cycles (TestClock)`,
        ...[cycles.start, cycles.half, cycles.end].map(mb),
        mb(cycles.end - cycles.half)
      ],
      [
        `${settings.refreshCycles.toLocaleString("en")} × TestClock.adjust alone`,
        ...[clockOnly.start, clockOnly.half, clockOnly.end].map(mb),
        mb(clockOnly.end - clockOnly.half)
      ]
    ]
  }
}

// -----------------------------------------------------------------------------
const main = async () => {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc (npm run bench does)")
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "CPU"}, ${
    Math.round(os.totalmem() / 2 ** 30)
  } GiB, Node ${process.version}, ${os.platform()} ${os.arch()}`
  console.log(`# effect-evc-net benchmark (${quick ? "quick" : "full"})\n\n${machine}\n`)
  const server = await Server.start()
  const tables: Array<Table> = []
  try {
    for (
      const scenario of [
        coldStart,
        throughput,
        () => clientCpu(),
        () => fiberStart(),
        expiryCrossing,
        () => hotPath(),
        memory
      ]
    ) {
      const start = performance.now()
      const table = await scenario(server)
      tables.push(table)
      console.log(formatTable(table))
      console.error(`(${((performance.now() - start) / 1000).toFixed(1)} s)\n`)
    }
  } finally {
    server.stop()
  }
  const dir = fileURLToPath(new URL("../results/", import.meta.url))
  mkdirSync(dir, { recursive: true })
  const file = `${dir}${quick ? "quick" : "full"}.json`
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, quick, settings, tables }, null, 2))
  console.log(`Results: ${file}`)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
