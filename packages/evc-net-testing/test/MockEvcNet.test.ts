import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import type { MockEvcNet } from "effect-evc-net-testing"
import { EvcNetTest, MockEvcNetModule } from "effect-evc-net-testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

const basic = (clientId: string, apiKey: string) => `Basic ${Buffer.from(`${clientId}:${apiKey}`).toString("base64")}`

const parse = (text: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/** The stand-in and a raw client to it, to check its wire behaviour byte by byte. */
const standIn = (options?: MockEvcNet.Options) =>
  Effect.gen(function*() {
    const mock = yield* MockEvcNetModule.make(options)
    const client = EvcNetTest.httpClient(mock)
    const tokenRequest = (
      init: { authorization?: string; contentType?: string; body?: string; method?: "POST" | "GET" } = {}
    ) =>
      Effect.gen(function*() {
        let request = HttpClientRequest.make(init.method ?? "POST")(mock.urls.tokenUrl, {
          headers: {
            accept: "application/json",
            authorization: init.authorization ?? basic("1", MockEvcNetModule.DEMO_API_KEY)
          }
        })
        if (init.method !== "GET") {
          request = HttpClientRequest.bodyText(
            request,
            init.body ?? "grant_type=client_credentials",
            init.contentType ?? "application/x-www-form-urlencoded"
          )
        }
        const response = yield* client.execute(request)
        const text = yield* response.text
        return {
          status: response.status,
          headers: response.headers,
          json: parse(text)
        }
      }).pipe(Effect.orDie)
    const apiGet = (path: string, token: string | undefined) =>
      Effect.gen(function*() {
        const response = yield* client.get(`${mock.urls.apiUrl}${path}`, {
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
        })
        return { status: response.status, headers: response.headers, json: parse(yield* response.text) ?? {} }
      }).pipe(Effect.orDie)
    const token = Effect.map(tokenRequest(), (answer) => String(answer.json?.access_token))
    return { mock, client, tokenRequest, apiGet, token }
  })

describe("MockEvcNet token endpoint", () => {
  it.effect("answers the page's request like the page: Bearer and expires_in", () =>
    Effect.gen(function*() {
      const { tokenRequest } = yield* standIn()
      const answer = yield* tokenRequest()
      expect(answer.status).toBe(200)
      expect(answer.json).toMatchObject({ token_type: "Bearer", expires_in: 3600 })
      expect(typeof answer.json?.access_token).toBe("string")
      expect(answer.headers["cache-control"]).toBe("no-store")
    }))

  it.effect("accepts any client_id label with the right key, unless the account pins one", () =>
    Effect.gen(function*() {
      const open = yield* standIn()
      expect((yield* open.tokenRequest({ authorization: basic("billing", MockEvcNetModule.DEMO_API_KEY) })).status)
        .toBe(200)
      const pinned = yield* standIn({ accounts: [{ apiKey: "k", clientId: "7" }] })
      expect((yield* pinned.tokenRequest({ authorization: basic("7", "k") })).status).toBe(200)
      expect((yield* pinned.tokenRequest({ authorization: basic("8", "k") })).status).toBe(401)
    }))

  it.effect("accepts Basic credentials form-urlencoded first (RFC 6749 §2.3.1), as OAuth libraries send them", () =>
    Effect.gen(function*() {
      const { tokenRequest } = yield* standIn({ accounts: [{ apiKey: "key-with-dashes+plus", clientId: "id one" }] })
      // openid-client and @badgateway/oauth2-client encode "-" too
      const encoded = (value: string) => encodeURIComponent(value).replace(/-/g, "%2D").replace(/%20/g, "+")
      expect((yield* tokenRequest({ authorization: basic(encoded("id one"), encoded("key-with-dashes+plus")) })).status)
        .toBe(200)
      expect((yield* tokenRequest({ authorization: basic("id one", "key-with-dashes+plus") })).status).toBe(200)
      expect((yield* tokenRequest({ authorization: basic(encoded("id one"), encoded("key-with-dashes")) })).status)
        .toBe(401)
    }))

  it.effect.each(
    [
      ["a wrong API key", { authorization: basic("1", "wrong") }, 401, "invalid_client"],
      ["no Authorization", { authorization: "" }, 401, "invalid_client"],
      [
        "a JSON content type",
        { contentType: "application/json", body: "{\"grant_type\":\"client_credentials\"}" },
        400,
        "invalid_request"
      ],
      ["no grant_type", { body: "scope=all" }, 400, "invalid_request"],
      ["grant_type=password", { body: "grant_type=password" }, 400, "unsupported_grant_type"]
    ] as const
  )("answers %s with an RFC 6749 §5.2 error", ([, init, status, error]) =>
    Effect.gen(function*() {
      const { tokenRequest } = yield* standIn()
      const answer = yield* tokenRequest(init)
      expect(answer.status).toBe(status)
      expect(answer.json?.error).toBe(error)
    }))

  it.effect("answers GET with 405", () =>
    Effect.gen(function*() {
      const { tokenRequest } = yield* standIn()
      expect((yield* tokenRequest({ method: "GET" })).status).toBe(405)
    }))
})

describe("MockEvcNet API", () => {
  it.effect("accepts only unexpired bearer tokens it issued, following the Clock", () =>
    Effect.gen(function*() {
      const { apiGet, token } = yield* standIn({ tokenLifetime: "60 seconds" })
      const missing = yield* apiGet("/demo/chargers", undefined)
      expect(missing.status).toBe(401)
      const forged = yield* apiGet("/demo/chargers", "forged")
      expect(forged.status).toBe(401)
      expect(forged.headers["www-authenticate"]).toContain("error=\"invalid_token\"")
      const issued = yield* token
      const ok = yield* apiGet("/demo/chargers", issued)
      expect(ok.status).toBe(200)
      expect(ok.json.notice).toBe(MockEvcNetModule.DEMO_NOTICE)
      yield* TestClock.adjust("60 seconds")
      expect((yield* apiGet("/demo/chargers", issued)).status).toBe(401)
    }))

  it.effect("serves routes the user registers, with :params", () =>
    Effect.gen(function*() {
      const { apiGet, mock, token } = yield* standIn()
      yield* mock.route("GET", "/chargers/:id", ({ clientId, params }) => ({ body: { id: params.id, clientId } }))
      const answer = yield* apiGet("/chargers/CP-9", yield* token)
      expect(answer.json).toEqual({ id: "CP-9", clientId: "1" })
      expect((yield* apiGet("/nothing-here", yield* token)).status).toBe(404)
    }))

  it.effect("controls: failNext, revokeAll, rateLimit and latency; counters count", () =>
    Effect.gen(function*() {
      const { apiGet, mock, token, tokenRequest } = yield* standIn()
      yield* mock.failNext("token", 2, { status: 503, body: "down" })
      expect((yield* tokenRequest()).status).toBe(503)
      expect((yield* tokenRequest()).status).toBe(503)
      const issued = yield* token
      yield* mock.failNext("api", 1, { status: 500, body: { error: "boom" } })
      expect((yield* apiGet("/demo/chargers", issued)).status).toBe(500)
      yield* mock.rateLimit({ retryAfterSeconds: 7, requests: 1 })
      const limited = yield* apiGet("/demo/chargers", issued)
      expect(limited.status).toBe(429)
      expect(limited.headers["retry-after"]).toBe("7")
      expect((yield* apiGet("/demo/chargers", issued)).status).toBe(200)
      yield* mock.revokeAll
      expect((yield* apiGet("/demo/chargers", issued)).status).toBe(401)
      yield* mock.setLatency({ api: "2 seconds" })
      const slow = yield* Effect.fork(apiGet("/demo/chargers", yield* token))
      yield* TestClock.adjust("1999 millis")
      expect(slow.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(slow)).status).toBe(200)
      expect(yield* mock.counters).toEqual({
        tokenRequests: 4,
        tokensIssued: 2,
        apiRequests: 5,
        apiByStatus: { 200: 2, 401: 1, 429: 1, 500: 1 }
      })
    }))

  it.effect("a dropped connection is a transport failure; a hang never answers", () =>
    Effect.gen(function*() {
      const { client, mock } = yield* standIn()
      yield* mock.failNext("token", 1, "drop")
      const error = yield* Effect.flip(client.post(mock.urls.tokenUrl))
      expect(error).toMatchObject({ _tag: "RequestError", reason: "Transport" })
      yield* mock.failNext("token", 1, "hang")
      const hanging = yield* Effect.fork(client.post(mock.urls.tokenUrl))
      yield* TestClock.adjust("1 hour")
      expect(hanging.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(hanging)
    }))
})
