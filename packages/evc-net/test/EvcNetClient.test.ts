import { HttpClientRequest } from "@effect/platform"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { EvcNetClient } from "effect-evc-net"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { API_KEY, API_URL, build, ok, TOKEN_URL } from "./fixtures/api.js"
import * as ScriptedHttp from "./fixtures/ScriptedHttp.js"
import { basicOf, expectNoSecret } from "./fixtures/secrets.js"

const Charger = Schema.Struct({ id: Schema.String, power: Schema.Number })

const secrets = (tokens: number) => [
  API_KEY,
  basicOf("1", API_KEY),
  ...Array.from({ length: tokens }, (_, i) => `token-${i + 1}`)
]

/** A tracer that records every span it is asked for: name, ids, parent and attributes. */
const recordingTracer = () => {
  const spans: Array<{ name: string; spanId: string; parentId?: string; attributes: Map<string, unknown> }> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = Tracer.externalSpan({ spanId: `${spans.length}`, traceId: "t" })
      const attributes = new Map<string, unknown>()
      spans.push({
        name,
        spanId: span.spanId,
        ...(parent._tag === "Some" ? { parentId: parent.value.spanId } : {}),
        attributes
      })
      return {
        ...span,
        _tag: "Span",
        name,
        parent,
        context,
        links,
        kind,
        status: { _tag: "Started", startTime },
        attributes,
        sampled: true,
        attribute: (key, value) => void attributes.set(key, value),
        end: () => undefined,
        event: () => undefined,
        addLinks: () => undefined
      }
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

describe("EvcNetClient", () => {
  describe("requests", () => {
    it.scoped("httpClient resolves the path against apiUrl and sends the current bearer token", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ok())
        const response = yield* client.httpClient.get("/chargers", { urlParams: { page: 2 } })
        expect(response.status).toBe(200)
        const [request] = apiRequests
        expect(request.url).toBe(`${API_URL}/chargers?page=2`)
        expect(request.headers["authorization"]).toBe("Bearer token-1")
        expect(request.headers["accept"]).toBe("application/json")
      }))

    it.scoped("get decodes the answer with the schema", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ok({ id: "CP-1", power: 22 }))
        const charger = yield* client.get("chargers/CP-1", { schema: Charger })
        expect(charger).toEqual({ id: "CP-1", power: 22 })
        expect(apiRequests[0].path).toBe("/chargers/CP-1")
      }))

    it.scoped("post sends the body as JSON", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ({ status: 201, body: { id: "S-1" } }))
        const created = yield* client.post("/sessions", { body: { charger: "CP-1" } })
        expect(created).toEqual({ id: "S-1" })
        expect(apiRequests[0]).toMatchObject({ method: "POST", body: "{\"charger\":\"CP-1\"}" })
        expect(apiRequests[0].headers["content-type"]).toBe("application/json")
      }))

    it.scoped("put, patch and del use their methods, and an empty answer is undefined", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ({ status: 204 }))
        expect(yield* client.put("/a", { body: { x: 1 } })).toBeUndefined()
        yield* client.patch("/b", { body: { y: 2 } })
        yield* client.del("/c")
        expect(apiRequests.map((request) => `${request.method} ${request.path}`)).toEqual([
          "PUT /a",
          "PATCH /b",
          "DELETE /c"
        ])
      }))

    it.scoped("an answer that does not match the schema fails with ApiDecodeError naming the field", () =>
      Effect.gen(function*() {
        const { client } = yield* build(() => ok({ id: "CP-1", power: "lots" }))
        const error = yield* Effect.flip(client.get("/chargers/CP-1", { schema: Charger }))
        expect(error._tag).toBe("ApiDecodeError")
        expect(error).toMatchObject({ method: "GET", path: "/chargers/CP-1", status: 200 })
        expect(error.message).toContain("power: Expected number, actual \"lots\"")
      }))

    it.scoped("invalid JSON fails with ApiDecodeError", () =>
      Effect.gen(function*() {
        const { client } = yield* build(() => ({ status: 200, body: "{not json" }))
        const error = yield* Effect.flip(client.get("/x", { schema: Charger }))
        expect(error).toMatchObject({ _tag: "ApiDecodeError", issues: ["the body is not JSON"] })
      }))

    it.scoped("a non-2xx answer fails with ApiError carrying status, method, path and an excerpt", () =>
      Effect.gen(function*() {
        const { client } = yield* build(() => ({ status: 404, body: { error: "no such charger" } }))
        const error = yield* Effect.flip(client.get("/chargers/nope?x=1"))
        expect(error).toMatchObject({
          _tag: "ApiError",
          status: 404,
          method: "GET",
          path: "/chargers/nope",
          bodyExcerpt: "{\"error\":\"no such charger\"}"
        })
        expectNoSecret(error, secrets(1))
      }))

    it.scoped("a body that cannot be encoded fails with RequestEncodeError and sends nothing", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ok())
        const error = yield* Effect.flip(client.post("/x", { body: { n: BigInt(1) } }))
        expect(error._tag).toBe("RequestEncodeError")
        expect(apiRequests).toHaveLength(0)
      }))
  })

  describe("1. 401 from the API", () => {
    it.scoped("invalidates the token that was sent, fetches a fresh one and retries once", () =>
      Effect.gen(function*() {
        const { apiRequests, client, tokenRequests } = yield* build((request) =>
          request.bearer === "token-1" ? { status: 401, body: "" } : ok()
        )
        yield* client.get("/x")
        expect(tokenRequests()).toBe(2)
        expect(apiRequests.map((request) => request.bearer)).toEqual(["token-1", "token-2"])
      }))

    it.scoped("100 concurrent requests that all get a 401 cause exactly one extra token request", () =>
      Effect.gen(function*() {
        const { apiRequests, client, tokenRequests } = yield* build((request) =>
          Effect.as(Effect.sleep("50 millis"), request.bearer === "token-1" ? { status: 401, body: "" } : ok())
        )
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 100 }, () => client.get("/x")), { concurrency: "unbounded" })
        )
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        expect(tokenRequests()).toBe(2)
        expect(apiRequests).toHaveLength(200)
      }))

    it.scoped.each(["GET", "POST", "PATCH", "DELETE"] as const)(
      "a fresh token refused too fails with TokenExpiredError after exactly one retry (%s)",
      (method) =>
        Effect.gen(function*() {
          const { apiRequests, client, tokenRequests } = yield* build(() => ({
            status: 401,
            body: "",
            headers: { "www-authenticate": "Bearer error=\"invalid_token\", error_description=\"revoked\"" }
          }))
          const error = yield* Effect.flip(client.httpClient.execute(HttpClientRequest.make(method)("/x")))
          expect(error).toMatchObject({
            _tag: "TokenExpiredError",
            status: 401,
            error: "invalid_token",
            errorDescription: "revoked"
          })
          expect(apiRequests).toHaveLength(2)
          expect(tokenRequests()).toBe(2)
          expectNoSecret(error, secrets(2))
        })
    )

    it.scoped("a 401 after a 429 retry does not earn a second refresh", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build((_, index) =>
          index === 0
            ? { status: 401, body: "" }
            : index === 1
            ? { status: 429, body: "", headers: { "retry-after": "1" } }
            : { status: 401, body: "" }
        )
        const fiber = yield* Effect.fork(Effect.flip(client.get("/x")))
        yield* TestClock.adjust("2 seconds")
        expect((yield* Fiber.join(fiber))._tag).toBe("TokenExpiredError")
        expect(apiRequests).toHaveLength(3)
      }))
  })

  describe("2. 429", () => {
    it.scoped.each(
      [
        ["seconds", "3", 3000],
        ["an HTTP-date", new Date(5000).toUTCString(), 5000],
        ["nothing (the documented 1 s default)", undefined, 1000]
      ] as const
    )("waits for Retry-After given as %s, then retries", ([, retryAfter, waitMillis]) =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build((_, index) =>
          index === 0
            ? { status: 429, body: "", headers: retryAfter === undefined ? {} : { "retry-after": retryAfter } }
            : ok()
        )
        const fiber = yield* Effect.fork(client.post("/sessions", { body: {} }))
        yield* TestClock.adjust(waitMillis - 1)
        expect(apiRequests).toHaveLength(1)
        yield* TestClock.adjust(1)
        yield* Fiber.join(fiber)
        expect(apiRequests).toHaveLength(2)
      }))

    it.scoped("is bounded: after maxRetries it fails with ApiError 429", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ({
          status: 429,
          body: "slow down",
          headers: { "retry-after": "1" }
        }))
        const fiber = yield* Effect.fork(Effect.flip(client.get("/x")))
        yield* TestClock.adjust("10 seconds")
        const error = yield* Fiber.join(fiber)
        expect(error).toMatchObject({ _tag: "ApiError", status: 429, retryAfter: Duration.seconds(1) })
        expect(apiRequests).toHaveLength(4)
      }))

    it.scoped("a Retry-After beyond the cap fails at once instead of holding the caller", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ({
          status: 429,
          body: "",
          headers: { "retry-after": "3600" }
        }))
        const error = yield* Effect.flip(client.get("/x"))
        expect(error).toMatchObject({ _tag: "ApiError", status: 429, retryAfter: Duration.hours(1) })
        expect(apiRequests).toHaveLength(1)
      }))
  })

  describe("3. Transient failures", () => {
    it.scoped.each(["GET", "PUT", "DELETE"] as const)(
      "%s is retried through 502, 503 and 504 with backoff",
      (method) =>
        Effect.gen(function*() {
          const statuses = [502, 503, 504]
          const { apiRequests, client } = yield* build((_, index) =>
            index < 3 ? { status: statuses[index], body: "" } : ok()
          )
          const fiber = yield* Effect.fork(client.httpClient.execute(HttpClientRequest.make(method)("/x")))
          yield* TestClock.adjust("10 seconds")
          expect((yield* Fiber.join(fiber)).status).toBe(200)
          expect(apiRequests).toHaveLength(4)
        })
    )

    it.scoped("a NetworkError on GET is retried", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build((_, index) => index === 0 ? { transport: "ECONNRESET" } : ok())
        const fiber = yield* Effect.fork(client.get("/x"))
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(fiber)
        expect(apiRequests).toHaveLength(2)
      }))

    it.scoped.each(["POST", "PATCH"] as const)("%s is not retried by default", (method) =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ({ status: 503, body: "" }))
        const call = method === "POST" ? client.post("/x", { body: {} }) : client.patch("/x", { body: {} })
        const error = yield* Effect.flip(call)
        expect(error).toMatchObject({ _tag: "ApiError", status: 503 })
        expect(apiRequests).toHaveLength(1)
        const transport = yield* build(() => ({ transport: "ECONNRESET" }))
        expect((yield* Effect.flip(transport.client.post("/x", { body: {} })))._tag).toBe("NetworkError")
        expect(transport.apiRequests).toHaveLength(1)
      }))

    it.scoped("POST is retried when the caller opts in", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build((_, index) => index === 0 ? { status: 503, body: "" } : ok())
        const fiber = yield* Effect.fork(client.post("/x", { body: {}, retryTransient: true }))
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(fiber)
        expect(apiRequests).toHaveLength(2)

        const raw = yield* build((_, index) => index === 0 ? { status: 503, body: "" } : ok())
        const rawFiber = yield* Effect.fork(
          EvcNetClient.retryingNonIdempotent(raw.client.httpClient.post("/x"))
        )
        yield* TestClock.adjust("2 seconds")
        expect((yield* Fiber.join(rawFiber)).status).toBe(200)
      }))

    it.scoped("is bounded: a GET that keeps failing ends with the typed error", () =>
      Effect.gen(function*() {
        const { apiRequests, client } = yield* build(() => ({ status: 503, body: "maintenance" }))
        const fiber = yield* Effect.fork(Effect.flip(client.get("/x")))
        yield* TestClock.adjust("1 minute")
        expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "ApiError", status: 503, bodyExcerpt: "maintenance" })
        expect(apiRequests).toHaveLength(4)
      }))
  })

  describe("4. Timeouts", () => {
    it.scoped("a request that outlives requestTimeout fails with NetworkError Timeout", () =>
      Effect.gen(function*() {
        const { client } = yield* build(() => ({ hang: true }), {
          config: { requestTimeout: "5 seconds", retry: { maxRetries: 0 } }
        })
        const fiber = yield* Effect.fork(Effect.flip(client.get("/x")))
        yield* TestClock.adjust("4999 millis")
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(fiber)).toMatchObject({
          _tag: "NetworkError",
          reason: "Timeout",
          method: "GET",
          url: `${API_URL}/x`
        })
      }))

    it.scoped("requestTimeout: Duration.infinity turns the timeout off: a 2-hour answer still arrives", () =>
      Effect.gen(function*() {
        const { client } = yield* build(
          () => Effect.as(Effect.sleep("2 hours"), { status: 200, body: { late: true } }),
          { config: { requestTimeout: Duration.infinity, retry: { maxRetries: 0 } } }
        )
        const fiber = yield* Effect.fork(client.get("/x"))
        yield* TestClock.adjust("2 hours")
        expect(yield* Fiber.join(fiber)).toEqual({ late: true })
      }))
  })

  describe("5. Interruption", () => {
    it.scoped("interrupting a request interrupts the in-flight HTTP call", () =>
      Effect.gen(function*() {
        let interrupted = 0
        const { client } = yield* build(() => Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted++)))
        const fiber = yield* Effect.fork(client.get("/x"))
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
        expect(interrupted).toBe(1)
        expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
      }))
  })

  describe("6. Redaction and 7. Tracing", () => {
    it.scoped.each(
      [
        ["the platform's default redacted names", undefined],
        ["a caller that cleared the redacted names", []]
      ] as const
    )(
      "each request runs in a span with method, path and status; Authorization is redacted in every span, with %s",
      ([, redacted]) =>
        Effect.gen(function*() {
          const { spans, tracer } = recordingTracer()
          yield* Effect.gen(function*() {
            const { client } = yield* build((request) =>
              request.bearer === "token-1" ? { status: 401, body: "" } : ok()
            )
            const get = client.get("/chargers/CP-1")
            yield* redacted === undefined ? get : Effect.locally(get, Headers.currentRedactedNames, redacted)
          }).pipe(Effect.withTracer(tracer))
          const request = spans.find((span) => span.name === "EvcNet.request")
          expect(request?.attributes.get("http.request.method")).toBe("GET")
          expect(request?.attributes.get("url.path")).toBe("/chargers/CP-1")
          expect(request?.attributes.get("http.response.status_code")).toBe(200)
          const httpSpans = spans.filter((span) => span.attributes.has("http.request.header.authorization"))
          expect(httpSpans.length).toBeGreaterThanOrEqual(3) // token, 401, retry
          // both API attempts (the 401 and the retry) are children of the request's span,
          // though each runs in a fiber of its own for its timeout
          const attempts = httpSpans.filter((span) => span.attributes.get("url.path") === "/v1/chargers/CP-1")
          expect(attempts.map((span) => span.parentId)).toEqual([request?.spanId, request?.spanId])
          for (const span of spans) {
            for (const value of span.attributes.values()) expectNoSecret(String(value), secrets(2))
          }
          for (const span of httpSpans) {
            expect(span.attributes.get("http.request.header.authorization")).toBe("<redacted>")
          }
        })
    )
    it.scoped("no span of ours where the platform traces nothing: tracing off, or currentTracerDisabledWhen", () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        yield* Effect.gen(function*() {
          const { client } = yield* build(() => ok())
          yield* client.get("/chargers/CP-1").pipe(Effect.withTracerEnabled(false))
          expect(spans).toEqual([])
          yield* Effect.locally(
            Effect.zipRight(client.get("/health"), client.get("/chargers/CP-1")),
            HttpClient.currentTracerDisabledWhen,
            (request) => request.url.endsWith("/health")
          )
        }).pipe(Effect.withTracer(tracer))
        const ours = spans.filter((span) => span.name === "EvcNet.request")
        expect(ours.map((span) => span.attributes.get("url.path"))).toEqual(["/chargers/CP-1"])
        expect(spans.some((span) => String(span.attributes.get("url.path")).endsWith("/health"))).toBe(false)
      }))
  })

  describe("layers", () => {
    it.scoped("layerConfig builds everything from the environment", () =>
      Effect.gen(function*() {
        const http = ScriptedHttp.make((request) =>
          request.url.endsWith("/oauth/v2/token") ? ScriptedHttp.tokenReply("env-token", 3600) : ok()
        )
        const env = new Map([
          ["EVC_NET_API_KEY", API_KEY],
          ["EVC_NET_TOKEN_URL", "http://127.0.0.1:9/oauth/v2/token"],
          ["EVC_NET_API_URL", "http://127.0.0.1:9/v1"]
        ])
        const context = yield* Layer.build(
          EvcNetClient.layerConfig.pipe(
            Layer.provide(http.layer),
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(env)))
          )
        )
        yield* Context.get(context, EvcNetClient).get("/ping")
        expect(http.requests.map((request) => request.url)).toEqual([
          "http://127.0.0.1:9/oauth/v2/token",
          "http://127.0.0.1:9/v1/ping"
        ])
        expect(http.requests[1].headers["authorization"]).toBe("Bearer env-token")
      }))

    it.scoped("two clients in one program keep their tokens apart", () =>
      Effect.gen(function*() {
        class Fleet extends Context.Tag("test/Fleet")<Fleet, EvcNetClient.Service>() {}
        class Depot extends Context.Tag("test/Depot")<Depot, EvcNetClient.Service>() {}
        const seen: Array<string> = []
        const http = ScriptedHttp.make((request) => {
          if (request.url === TOKEN_URL) {
            const account = request.headers["authorization"] === `Basic ${basicOf("1", "fleet-key")}`
              ? "fleet"
              : "depot"
            return ScriptedHttp.tokenReply(`${account}-token`, 3600)
          }
          seen.push(`${request.url.slice(API_URL.length)} ${request.headers["authorization"]}`)
          return ok()
        })
        const config = { tokenUrl: TOKEN_URL, apiUrl: API_URL }
        const context = yield* Layer.build(
          Layer.merge(
            EvcNetClient.layerAs(Fleet, { credentials: { apiKey: "fleet-key" }, config }),
            EvcNetClient.layerAs(Depot, { credentials: { apiKey: "depot-key" }, config })
          ).pipe(Layer.provide(http.layer))
        )
        yield* Context.get(context, Fleet).get("/fleet")
        yield* Context.get(context, Depot).get("/depot")
        yield* Context.get(context, Fleet).get("/fleet")
        expect(seen).toEqual(["/fleet Bearer fleet-token", "/depot Bearer depot-token", "/fleet Bearer fleet-token"])
      }))
  })
})
