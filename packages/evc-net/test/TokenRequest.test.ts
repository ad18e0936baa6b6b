import { describe, expect, it } from "@effect/vitest"
import { Credentials, EvcNetConfig, TokenRequest } from "effect-evc-net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as ScriptedHttp from "./fixtures/ScriptedHttp.js"
import { basicOf, expectNoSecret } from "./fixtures/secrets.js"

const API_KEY = "f222f495-c46f-4829-24ef-442f55888f3e"
const TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6.secret-token"

const setup = (
  script: Parameters<typeof ScriptedHttp.make>[0],
  credentials: Credentials.Options = { apiKey: API_KEY }
) => {
  const http = ScriptedHttp.make(script)
  const layer = Layer.mergeAll(
    Credentials.layer(credentials),
    EvcNetConfig.layer({ tokenUrl: "https://accp.evc-net.com/oauth/v2/token" }),
    http.layer
  )
  return { http, fetch: Effect.provide(TokenRequest.fetch, layer) }
}

describe("TokenRequest wire format", () => {
  it.effect("sends exactly the request of EVC-net's page", () =>
    Effect.gen(function*() {
      const { fetch, http } = setup(() => ScriptedHttp.tokenReply(TOKEN))
      yield* fetch
      expect(http.requests).toHaveLength(1)
      const [request] = http.requests
      expect(request.method).toBe("POST")
      expect(request.url).toBe("https://accp.evc-net.com/oauth/v2/token")
      expect(request.headers["accept"]).toBe("application/json")
      expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded")
      expect(request.headers["authorization"]).toBe(`Basic ${basicOf("1", API_KEY)}`)
      expect(request.body).toBe("grant_type=client_credentials")
    }))

  it.effect("matches `echo -n \"1:$APIKEY\" | base64` for the page's example key", () =>
    Effect.gen(function*() {
      const { fetch, http } = setup(() => ScriptedHttp.tokenReply(TOKEN))
      yield* fetch
      // printf '1:f222f495-c46f-4829-24ef-442f55888f3e' | base64
      expect(http.requests[0].headers["authorization"]).toBe(
        "Basic MTpmMjIyZjQ5NS1jNDZmLTQ4MjktMjRlZi00NDJmNTU4ODhmM2U="
      )
    }))

  it.effect.each([
    ["Latin-1", "système", "clé-àéîõü"],
    ["Cyrillic and emoji", "1", "ключ-🔑-ü"],
    ["CJK", "客户", "鍵-キー"]
  ])("encodes the UTF-8 bytes of client_id:api_key (%s)", ([, clientId, apiKey]) =>
    Effect.gen(function*() {
      const { fetch, http } = setup(() => ScriptedHttp.tokenReply(TOKEN), { clientId, apiKey })
      yield* fetch
      expect(http.requests[0].headers["authorization"]).toBe(`Basic ${basicOf(clientId, apiKey)}`)
    }))

  it.effect("decodes the token with issuedAt and expiresAt from the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const { fetch } = setup(() => ScriptedHttp.tokenReply(TOKEN, 3600))
      const token = yield* fetch
      expect(Redacted.value(token.token)).toBe(TOKEN)
      expect(token.tokenType).toBe("Bearer")
      expect(token.issuedAt).toBe(1_000_000)
      expect(token.expiresAt).toBe(1_000_000 + 3_600_000)
      expect(String(token.token)).toBe("<redacted>")
    }))

  it.effect.each<[string, object, number]>([
    ["a numeric string expires_in", { access_token: TOKEN, token_type: "Bearer", expires_in: "60" }, 60_000],
    ["a lower-case token_type", { access_token: TOKEN, token_type: "bearer", expires_in: 60 }, 60_000],
    ["unknown extra fields", { access_token: TOKEN, token_type: "Bearer", expires_in: 60, scope: "all" }, 60_000],
    [
      "an absurd lifetime, clamped to 24 days",
      { access_token: TOKEN, token_type: "Bearer", expires_in: 1e12 },
      24 * 86_400_000
    ]
  ])("accepts %s", ([, body, lifetimeMillis]) =>
    Effect.gen(function*() {
      const { fetch } = setup(() => ({ status: 200, body }))
      const token = yield* fetch
      expect(Duration.toMillis(token.lifetime)).toBe(lifetimeMillis)
      expect(token.expiresAt - token.issuedAt).toBe(lifetimeMillis)
    }))
})

describe("TokenRequest errors", () => {
  const cases: Array<[string, ScriptedHttp.Reply, string, Record<string, unknown>]> = [
    [
      "400 invalid_client",
      { status: 400, body: { error: "invalid_client", error_description: "Client authentication failed" } },
      "InvalidCredentialsError",
      { status: 400, error: "invalid_client", errorDescription: "Client authentication failed" }
    ],
    ["401", { status: 401, body: "" }, "InvalidCredentialsError", { status: 401 }],
    ["403", { status: 403, body: { error: "access_denied" } }, "InvalidCredentialsError", { status: 403 }],
    ["400 unsupported_grant_type", { status: 400, body: { error: "unsupported_grant_type" } }, "TokenResponseError", {
      status: 400,
      error: "unsupported_grant_type"
    }],
    ["500", { status: 500, body: "Internal Server Error" }, "TokenResponseError", {
      status: 500,
      bodyExcerpt: "Internal Server Error"
    }],
    ["503 with Retry-After", { status: 503, body: "", headers: { "retry-after": "7" } }, "TokenResponseError", {
      status: 503,
      retryAfter: Duration.seconds(7)
    }],
    ["an HTML body", { status: 200, body: "<html><body>Maintenance</body></html>" }, "TokenResponseError", {
      status: 200,
      description: "the body is not JSON",
      bodyExcerpt: "<html><body>Maintenance</body></html>"
    }],
    ["an empty body", { status: 200, body: "" }, "TokenResponseError", { description: "the body is not JSON" }],
    ["{}", { status: 200, body: {} }, "TokenResponseError", {
      description: "access_token: is missing; token_type: is missing; expires_in: is missing"
    }],
    [
      "token_type mac",
      { status: 200, body: { access_token: TOKEN, token_type: "mac", expires_in: 60 } },
      "TokenResponseError",
      {
        description: "token_type: must be \"Bearer\""
      }
    ],
    [
      "expires_in 0",
      { status: 200, body: { access_token: TOKEN, token_type: "Bearer", expires_in: 0 } },
      "TokenResponseError",
      {
        description: "expires_in: must be a positive number of seconds"
      }
    ],
    [
      "expires_in -5",
      { status: 200, body: { access_token: TOKEN, token_type: "Bearer", expires_in: -5 } },
      "TokenResponseError",
      {
        description: "expires_in: must be a positive number of seconds"
      }
    ],
    [
      "expires_in \"abc\"",
      { status: 200, body: { access_token: TOKEN, token_type: "Bearer", expires_in: "abc" } },
      "TokenResponseError",
      {
        description: "expires_in: must be a positive number of seconds"
      }
    ],
    [
      "an empty access_token",
      { status: 200, body: { access_token: "", token_type: "Bearer", expires_in: 60 } },
      "TokenResponseError",
      {
        description: "access_token: must be a non-empty string"
      }
    ],
    [
      "a redirect",
      { status: 302, body: "", headers: { location: "https://elsewhere.example/token" } },
      "TokenResponseError",
      {
        status: 302
      }
    ],
    ["a transport failure", { transport: "connect ECONNREFUSED 127.0.0.1:443" }, "NetworkError", {
      method: "POST",
      url: "https://accp.evc-net.com/oauth/v2/token",
      reason: "Transport"
    }]
  ]

  it.effect.each(cases)("%s fails with the typed error", ([, reply, tag, fields]) =>
    Effect.gen(function*() {
      const { fetch } = setup(() => reply)
      const error = yield* Effect.flip(fetch)
      expect(error._tag).toBe(tag)
      expect(error).toMatchObject(fields)
      expect(error.message.length).toBeGreaterThan(20)
      expectNoSecret(error, [API_KEY, basicOf("1", API_KEY), TOKEN])
    }))

  it.effect("a token endpoint that does not answer within tokenTimeout fails with NetworkError Timeout", () =>
    Effect.gen(function*() {
      const { fetch } = setup(() => ({ hang: true }))
      const fiber = yield* Effect.fork(fetch)
      yield* TestClock.adjust("9999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(exit)
      expect(error).toMatchObject({ _tag: "NetworkError", reason: "Timeout" })
      expect(error.message).toBe("POST https://accp.evc-net.com/oauth/v2/token timed out after 10s")
    }))

  it.effect("the NetworkError of a transport failure keeps the cause and names it in the message", () =>
    Effect.gen(function*() {
      const { fetch } = setup(() => ({ transport: "connect ECONNREFUSED 127.0.0.1:443" }))
      const error = yield* Effect.flip(fetch)
      expect(error.message).toBe(
        "POST https://accp.evc-net.com/oauth/v2/token failed: connect ECONNREFUSED 127.0.0.1:443"
      )
    }))

  it.effect("an error body that echoes the credentials is scrubbed from the excerpt", () =>
    Effect.gen(function*() {
      const basic = basicOf("1", API_KEY)
      const { fetch } = setup(() => ({ status: 500, body: `bad header Basic ${basic} for key ${API_KEY}` }))
      const error = yield* Effect.flip(fetch)
      expect(error).toMatchObject({ bodyExcerpt: "bad header Basic <redacted> for key <redacted>" })
    }))

  it.effect.each(
    [
      ["invalid JSON", `{"access_token":"tok-7f3a9c","token_type":"Bearer","expires_in":NaN}`, 200],
      ["a cut-off body", `{"token_type":"Bearer","access_token":"tok-7f3a9c`, 200],
      ["a form-encoded answer", "access_token=tok-7f3a9c&token_type=bearer", 200],
      ["an error that echoes a token", `{"error":"server_error","refresh_token":"tok-7f3a9c"}`, 500]
    ] as const
  )("a token in an unusable answer (%s) never reaches the error", ([, body, status]) =>
    Effect.gen(function*() {
      const { fetch } = setup(() => ({ status, body }))
      const error = yield* Effect.flip(fetch)
      expect(error._tag).toBe("TokenResponseError")
      expect(error).toHaveProperty("bodyExcerpt", expect.stringContaining("<redacted>"))
      expectNoSecret(error, ["tok-7f3a9c"])
    }))
})
