/**
 * Reliability and security: the fault matrix (./reliability/matrix.ts) run
 * row by row against the stand-in under TestClock, every log line, span and
 * error of each run searched for secrets, and `packages/evc-net/RELIABILITY.md`
 * checked against the rows so that the report cannot drift from the tests.
 *
 * Regenerate the report: EVC_NET_UPDATE_RELIABILITY=1 npx vitest run --project effect-evc-net-testing reliability
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { EvcNetClient } from "effect-evc-net"
import { EvcNetTest, MockEvcNet } from "effect-evc-net-testing"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Outcome, Row } from "./reliability/matrix.js"
import { rows, SCRIPTED_TOKEN } from "./reliability/matrix.js"

const API_KEY = "c3f8a1d6-2e9b-4b7a-8d5c-6f0e1a2b3c4d"
const BASIC = Buffer.from(`1:${API_KEY}`).toString("base64")
/** Tokens the stand-in issues look like this. */
const ISSUED_TOKEN = /mock-\d+-[0-9a-f]{8}-/
const REPORT = fileURLToPath(new URL("../../evc-net/RELIABILITY.md", import.meta.url))

const WhoAmI = Schema.Struct({ notice: Schema.String, clientId: Schema.String })
const NotWhoAmI = Schema.Struct({ clientId: Schema.Number })

let unhandled = 0
const onUnhandled = () => void unhandled++
process.on("unhandledRejection", onUnhandled)
afterAll(() => void process.off("unhandledRejection", onUnhandled))

/** Everything a run wrote where a secret could leak: logs, span names, attributes and events. */
const recorder = () => {
  const written: Array<string> = []
  const logger = Logger.make(({ annotations, cause, message }) => {
    written.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }), Cause.pretty(cause))
  })
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      written.push(name)
      return {
        ...Tracer.externalSpan({ spanId: `${written.length}`, traceId: "t" }),
        _tag: "Span",
        name,
        parent,
        context,
        links,
        kind,
        status: { _tag: "Started", startTime },
        attributes: new Map(),
        sampled: true,
        attribute: (key, value) => void written.push(`${key}=${String(value)}`),
        end: () => undefined,
        event: (event, _time, attributes) => void written.push(event, JSON.stringify(attributes ?? {})),
        addLinks: () => undefined
      }
    },
    context: (f) => f()
  })
  return { written, logger, tracer }
}

interface Observed {
  readonly outcome: Outcome | "defect"
  readonly tokenRequests: number
  readonly seconds: number
  readonly fibersLeft: number
  readonly written: ReadonlyArray<string>
}

/** One row: a cold client, the fault, one GET, time moved on a second at a time. */
const runRow = (row: Row): Effect.Effect<Observed> => {
  const { logger, tracer, written } = recorder()
  return Effect.gen(function*() {
    const supervisor = yield* Supervisor.track
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      EvcNetTest.layer({ accounts: [{ apiKey: API_KEY }] }),
      scope
    ).pipe(Effect.orDie)
    const mock = Context.get(context, MockEvcNet)
    const evc = Context.get(context, EvcNetClient)
    yield* row.arrange(mock)
    const fiber = yield* Effect.fork(
      row.wrongSchema === true
        ? Effect.asVoid(evc.get("/demo/whoami", { schema: NotWhoAmI }))
        : Effect.asVoid(evc.get("/demo/whoami", { schema: WhoAmI }))
    )
    let seconds = 0
    yield* Effect.yieldNow()
    while (fiber.unsafePoll() === null && seconds < row.expected.withinSeconds + 60) {
      yield* TestClock.adjust("1 second")
      seconds++
    }
    const exit = fiber.unsafePoll() ?? (yield* Fiber.interrupt(fiber))
    const counters = yield* mock.counters
    yield* Scope.close(scope, Exit.void)
    const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
    if (Exit.isFailure(exit)) {
      written.push(Cause.pretty(exit.cause))
      if (error?._tag === "Some") written.push(String(error.value), error.value.message, JSON.stringify(error.value))
    }
    const outcome: Outcome | "defect" = Exit.isSuccess(exit)
      ? "succeeded"
      : error?._tag === "Some"
      ? error.value._tag
      : "defect"
    return {
      outcome,
      tokenRequests: counters.tokenRequests,
      seconds,
      fibersLeft: (yield* supervisor.value).length,
      written
    }
  }).pipe(
    Effect.withTracer(tracer),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(LogLevel.All)
  )
}

describe("fault matrix", () => {
  it.effect.each(rows.map((row) => [`${row.area}: ${row.fault}`, row] as const))(
    "%s",
    ([, row]) =>
      Effect.gen(function*() {
        const observed = yield* runRow(row)
        expect(observed.outcome).toBe(row.expected.outcome)
        expect(observed.tokenRequests).toBe(row.expected.tokenRequests)
        expect(observed.seconds).toBeLessThanOrEqual(row.expected.withinSeconds)
        expect(observed.fibersLeft).toBe(0)
        expect(observed.written.length).toBeGreaterThan(0)
        for (const line of observed.written) {
          expect(line).not.toContain(API_KEY)
          expect(line).not.toContain(BASIC)
          expect(line).not.toContain(SCRIPTED_TOKEN)
          expect(line).not.toMatch(ISSUED_TOKEN)
        }
      })
  )

  it("no run left an unhandled rejection", () => {
    expect(unhandled).toBe(0)
  })
})

describe("RELIABILITY.md", () => {
  it("is what the fault matrix above tests", () => {
    const generated = report()
    if (process.env.EVC_NET_UPDATE_RELIABILITY === "1") writeFileSync(REPORT, generated)
    expect(readFileSync(REPORT, "utf8"), "regenerate: EVC_NET_UPDATE_RELIABILITY=1 npm test").toBe(generated)
  })
})

const report = (): string => {
  const table = (area: Row["area"]) =>
    [
      "| fault | outcome | token requests | ended within (simulated) |",
      "| --- | --- | ---: | ---: |",
      ...rows.filter((row) => row.area === area).map((row) =>
        `| ${row.fault} | ${
          row.expected.outcome === "succeeded" ? "succeeded" : `\`${row.expected.outcome}\``
        } | ${row.expected.tokenRequests} | ${row.expected.withinSeconds} s |`
      )
    ].join("\n")
  return `# Reliability report

Generated from the fault matrix in
[\`packages/evc-net-testing/test/reliability/matrix.ts\`](../evc-net-testing/test/reliability/matrix.ts)
by [\`reliability.test.ts\`](../evc-net-testing/test/reliability.test.ts), which runs every row
in \`npm test\` and fails if this file and the rows disagree. Do not edit by hand: regenerate
with \`EVC_NET_UPDATE_RELIABILITY=1 npx vitest run --project effect-evc-net-testing reliability\`.

Each row is one \`GET\` through \`EvcNetClient\` with default policies, on a cold cache,
against the in-process stand-in (\`EvcNetTest.layer\`) under \`TestClock\`. For every row the
test checks the outcome and the number of token requests below, that the request ended
within the bound (simulated time, advanced a second at a time), that it did not end in a
defect, that no fiber was left running once the layer's scope closed, that no promise
rejection went unhandled, and that no log line (all levels), span name, span attribute,
span event, error message, \`JSON.stringify\`/\`String\` of the error or \`Cause.pretty\` contained
the API key, the Basic string or any access token.

## Token endpoint

${table("token endpoint")}

Rows where a scripted answer is a usable token count 2 token requests: the client accepts
the token, the stand-in's API (which did not issue it) answers 401, and the client recovers
with one refresh.

## API

${table("API")}

## Over real loopback sockets

[\`loopback.test.ts\`](../evc-net-testing/test/loopback.test.ts) repeats a subset through
\`NodeHttpClient\` (undici) against \`MockEvcNet.layerServer\`: token, GET and POST; a revoked
token recovered with one refresh; bad credentials; a connection dropped mid-request on a
POST (\`NetworkError\`, not retried); a hang past \`requestTimeout\` (\`NetworkError\` Timeout);
interruption aborting the request; a redirect from the token endpoint to another origin,
which is not followed, so the Basic credentials never reach that origin. Below HTTP, against
a raw socket server: connection refused (\`NetworkError\` Transport), a connection reset in
the middle of the token's body (\`NetworkError\` Transport, the partial token nowhere in the
error) and a body that trickles in past \`tokenTimeout\` (\`NetworkError\` Timeout).

## Property-based soak

[\`soak.test.ts\`](../evc-net-testing/test/soak.test.ts) (fast-check through \`effect/FastCheck\`
and \`it.scoped.prop\`) generates schedules of requests, token-endpoint faults (500, 503,
429, dropped connections, hangs), API faults, 401s, revocations and lifetime changes
(15 minutes to 24 hours) over 7 simulated days, and checks: every request succeeds or
fails with an \`EvcNetError\` within a bound, never a defect or a hang; token requests stay
under the refresh schedule plus the refusals, the injected faults and the requests; once
faults stop, a request succeeds after one backoff cap (30 s); no log line of the week
carries the key, the Basic string or a token. \`npm test\` runs 4 seeded weeks;
\`npm run soak\` runs 100 (\`EVC_NET_SOAK_RUNS\`, \`EVC_NET_SOAK_SEED\` to vary).

## Configuration

[\`Credentials.test.ts\`](test/Credentials.test.ts) and
[\`EvcNetConfig.test.ts\`](test/EvcNetConfig.test.ts): a missing or blank key, a \`client_id\`
with \`:\`, a non-loopback \`http://\` URL, a malformed URL, user info in a URL, and a zero or
negative timeout each fail when the layer is built, with a \`ConfigError\` that names the
setting and not its value.
`
}
