/**
 * The whole stack over a real loopback socket: NodeHttpClient (undici) against
 * the stand-in on 127.0.0.1. Real time, so every wait here is short.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { EvcNetClient } from "effect-evc-net"
import { MockEvcNet, MockEvcNetModule } from "effect-evc-net-testing"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { Server, ServerResponse } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

const overLoopback = (options?: MockEvcNet.ServerOptions, apiKey = MockEvcNetModule.DEMO_API_KEY) =>
  Effect.gen(function*() {
    const mock = Context.get(yield* Layer.build(MockEvcNet.layerServer(options)), MockEvcNet)
    const context = yield* Layer.build(
      EvcNetClient.layerWith({
        credentials: { apiKey },
        config: { tokenUrl: mock.urls.tokenUrl, apiUrl: mock.urls.apiUrl, requestTimeout: "2 seconds" }
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
    return { mock, evc: Context.get(context, EvcNetClient) }
  })

describe("over a real loopback socket", () => {
  it.scopedLive("token, GET and POST through NodeHttpClient", () =>
    Effect.gen(function*() {
      const { evc, mock } = yield* overLoopback()
      expect(mock.urls.tokenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/v2\/token$/)
      const listed = yield* evc.get("/demo/chargers")
      expect(listed).toMatchObject({ notice: MockEvcNetModule.DEMO_NOTICE })
      const echoed = yield* evc.post("/demo/echo", { body: { hello: "wörld" } })
      expect(echoed).toMatchObject({ received: { hello: "wörld" } })
      expect(yield* mock.counters).toMatchObject({ tokensIssued: 1, apiRequests: 2, apiByStatus: { 200: 2 } })
    }))

  it.scopedLive("httpClient: the caller reads the body after the attempt (and its timeout's fiber) has ended", () =>
    Effect.gen(function*() {
      const { evc } = yield* overLoopback()
      const response = yield* evc.httpClient.get("/demo/chargers")
      // `get` returned: the attempt's fiber has ended, and the body is still to be read
      expect(response.status).toBe(200)
      expect(yield* response.json).toMatchObject({ notice: MockEvcNetModule.DEMO_NOTICE })
    }))

  it.scopedLive("a revoked token is recovered with one refresh", () =>
    Effect.gen(function*() {
      const { evc, mock } = yield* overLoopback()
      yield* evc.get("/demo/whoami")
      yield* mock.revokeAll
      yield* evc.get("/demo/whoami")
      expect(yield* mock.counters).toMatchObject({ tokensIssued: 2, apiByStatus: { 200: 2, 401: 1 } })
    }))

  it.scopedLive("bad credentials fail with InvalidCredentialsError", () =>
    Effect.gen(function*() {
      const { evc } = yield* overLoopback(undefined, "not-the-key")
      const error = yield* Effect.flip(evc.get("/demo/whoami"))
      expect(error._tag).toBe("InvalidCredentialsError")
    }))

  it.scopedLive("a dropped connection on a POST is a NetworkError, not retried", () =>
    Effect.gen(function*() {
      const { evc, mock } = yield* overLoopback()
      yield* evc.get("/demo/whoami")
      yield* mock.failNext("api", 1, "drop")
      const error = yield* Effect.flip(evc.post("/demo/echo", { body: {} }))
      expect(error._tag).toBe("NetworkError")
      expect((yield* mock.counters).apiRequests).toBe(2)
    }))

  it.scopedLive("interrupting a request to a hanging server aborts it", () =>
    Effect.gen(function*() {
      const { evc, mock } = yield* overLoopback()
      yield* evc.get("/demo/whoami")
      yield* mock.failNext("api", 1, "hang")
      const fiber = yield* Effect.fork(evc.get("/demo/whoami"))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
      // the server is still fine for the next request
      yield* evc.get("/demo/whoami")
    }))

  it.scopedLive("a server that hangs past requestTimeout gives NetworkError Timeout", () =>
    Effect.gen(function*() {
      const { evc, mock } = yield* overLoopback()
      yield* evc.get("/demo/whoami")
      yield* mock.failNext("api", 1, "hang")
      const error = yield* Effect.flip(evc.post("/demo/echo", { body: {} }))
      expect(error).toMatchObject({ _tag: "NetworkError", reason: "Timeout" })
    }))
  it.scopedLive("a handler still running when the client gives up is interrupted, so nothing outlives the connection", () =>
    Effect.gen(function*() {
      const { mock } = yield* overLoopback()
      const interrupted = yield* Deferred.make<void>()
      yield* mock.route(
        "GET",
        "/slow",
        () => Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, void 0))
      )
      const token = yield* Effect.promise(() =>
        fetch(mock.urls.tokenUrl, {
          method: "POST",
          headers: {
            authorization: `Basic ${btoa(`1:${MockEvcNetModule.DEMO_API_KEY}`)}`,
            "content-type": "application/x-www-form-urlencoded"
          },
          body: "grant_type=client_credentials"
        }).then((response) => response.json() as Promise<{ access_token: string }>)
      )
      const aborted = yield* Effect.promise(() =>
        fetch(`${mock.urls.apiUrl}/slow`, {
          headers: { authorization: `Bearer ${token.access_token}` },
          signal: AbortSignal.timeout(100)
        }).then(() => "answered", (error: Error) => error.name)
      )
      expect(aborted).toBe("TimeoutError")
      yield* Deferred.await(interrupted).pipe(
        Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => "still running" })
      )
    }))

  it.scopedLive("a redirect from the token endpoint to another origin is not followed: the credentials stay home", () =>
    Effect.gen(function*() {
      const { evc, mock } = yield* overLoopback()
      const elsewhere = Context.get(yield* Layer.build(MockEvcNet.layerServer()), MockEvcNet)
      yield* mock.failNext("token", 1, { status: 307, headers: { location: elsewhere.urls.tokenUrl } })
      const error = yield* Effect.flip(evc.get("/demo/whoami"))
      expect(error).toMatchObject({ _tag: "TokenResponseError", status: 307 })
      expect((yield* elsewhere.counters).tokenRequests).toBe(0)
    }))

  describe("a token endpoint that misbehaves below HTTP", () => {
    /** A raw server: `handle` gets each request's response to misuse. */
    const rawServer = (handle: (response: ServerResponse) => void) =>
      Effect.acquireRelease(
        Effect.async<Server>((resume) => {
          const server = createServer((_request, response) => handle(response))
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => void server.close())
      ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/v2/token`))

    const fetchFrom = (tokenUrl: string) =>
      Effect.gen(function*() {
        const context = yield* Layer.build(
          EvcNetClient.layerWith({
            credentials: { apiKey: MockEvcNetModule.DEMO_API_KEY },
            config: {
              tokenUrl,
              apiUrl: "http://127.0.0.1:9/v1",
              tokenTimeout: "1 second",
              refresh: { coldAttempts: 1 }
            }
          }).pipe(Layer.provide(NodeHttpClient.layerUndici))
        )
        return yield* Effect.flip(Context.get(context, EvcNetClient).get("/x"))
      })

    it.scopedLive("connection refused is a NetworkError (Transport)", () =>
      Effect.gen(function*() {
        const error = yield* fetchFrom("http://127.0.0.1:9/oauth/v2/token")
        expect(error).toMatchObject({ _tag: "NetworkError", reason: "Transport" })
      }))

    it.scopedLive("a connection reset in the middle of the body is a NetworkError, not a decode error", () =>
      Effect.gen(function*() {
        const url = yield* rawServer((response) => {
          response.writeHead(200, { "content-type": "application/json", "content-length": "200" })
          response.write("{\"access_token\":\"tok-cut-off")
          setTimeout(() => response.socket?.destroy(), 20)
        })
        const error = yield* fetchFrom(url)
        expect(error).toMatchObject({ _tag: "NetworkError", reason: "Transport" })
        for (const text of [String(error), JSON.stringify(error), error.message]) {
          expect(text).not.toContain("tok-cut-off")
        }
      }))

    it.scopedLive("a body that trickles in past tokenTimeout is a NetworkError (Timeout)", () =>
      Effect.gen(function*() {
        let timer: ReturnType<typeof setInterval> | undefined
        const url = yield* rawServer((response) => {
          response.writeHead(200, { "content-type": "application/json" })
          timer = setInterval(() => response.write(" "), 100)
          response.on("close", () => clearInterval(timer))
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
        const error = yield* fetchFrom(url)
        expect(error).toMatchObject({ _tag: "NetworkError", reason: "Timeout" })
      }))
  })
})
