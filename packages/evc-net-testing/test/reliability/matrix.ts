/**
 * The fault matrix: each row a fault of the token endpoint or the API, and
 * what a `GET` through `EvcNetClient` must then do. `reliability.test.ts` runs
 * every row against the stand-in under `TestClock` and writes (or checks)
 * `packages/evc-net/RELIABILITY.md` from the rows and what actually happened.
 */
import type { EvcNetError } from "effect-evc-net"
import type { MockEvcNet } from "effect-evc-net-testing"
import * as Effect from "effect/Effect"

/** What the request ended with: success, or the typed error's tag. */
export type Outcome = "succeeded" | EvcNetError["_tag"]

export interface Row {
  readonly area: "token endpoint" | "API"
  readonly fault: string
  /** Sets the fault up on the stand-in before the request. */
  readonly arrange: (mock: MockEvcNet.Service) => Effect.Effect<void>
  /** Decode the answer with a schema it does not match. */
  readonly wrongSchema?: boolean
  readonly expected: {
    readonly outcome: Outcome
    /** Token requests the stand-in saw. */
    readonly tokenRequests: number
    /** Simulated seconds within which the request must have ended. */
    readonly withinSeconds: number
  }
}

/** A token issued by a scripted answer: a secret like any other. */
export const SCRIPTED_TOKEN = "scripted-token-5f1d2c9a7b3e"

const token = (fields: Record<string, unknown>) => ({
  status: 200,
  body: { access_token: SCRIPTED_TOKEN, token_type: "Bearer", expires_in: 3600, ...fields }
})
const raw = (status: number, body: string, contentType = "application/json") => ({
  status,
  body,
  headers: { "content-type": contentType }
})
const tokenFault = (fault: MockEvcNet.Fault, count = 1) => (mock: MockEvcNet.Service) =>
  mock.failNext("token", count, fault)
const apiFault = (fault: MockEvcNet.Fault, count = 1) => (mock: MockEvcNet.Service) =>
  mock.failNext("api", count, fault)
const invalidToken = { status: 401, headers: { "www-authenticate": "Bearer error=\"invalid_token\"" } }

const ok = (tokenRequests = 1, withinSeconds = 1) => ({ outcome: "succeeded" as const, tokenRequests, withinSeconds })
/**
 * A scripted answer that is a usable token: accepted, then refused by the
 * stand-in's API (it did not issue it) with a 401, and recovered with one refresh.
 */
const okScripted = ok(2)
const fails = (outcome: Outcome, tokenRequests: number, withinSeconds = 1) => ({
  outcome,
  tokenRequests,
  withinSeconds
})

export const rows: ReadonlyArray<Row> = [
  // --- token endpoint: refusals are final, at once, with one request -----------------
  {
    area: "token endpoint",
    fault: "400 invalid_client",
    arrange: tokenFault({ status: 400, body: { error: "invalid_client" } }),
    expected: fails("InvalidCredentialsError", 1)
  },
  {
    area: "token endpoint",
    fault: "401",
    arrange: tokenFault({ status: 401, body: { error: "invalid_client" } }),
    expected: fails("InvalidCredentialsError", 1)
  },
  {
    area: "token endpoint",
    fault: "403",
    arrange: tokenFault({ status: 403 }),
    expected: fails("InvalidCredentialsError", 1)
  },
  // --- transient answers: the cold fetch retries (3 attempts) --------------------------
  {
    area: "token endpoint",
    fault: "429 once, Retry-After: 2 (seconds)",
    arrange: tokenFault({ status: 429, headers: { "retry-after": "2" } }),
    expected: ok(2, 3)
  },
  {
    area: "token endpoint",
    fault: "429 once, Retry-After as an HTTP date 2 s ahead",
    arrange: tokenFault({ status: 429, headers: { "retry-after": new Date(2_000).toUTCString() } }),
    expected: ok(2, 3)
  },
  {
    area: "token endpoint",
    fault: "429 with Retry-After: 3600 (beyond coldMaxDelay)",
    arrange: tokenFault({ status: 429, headers: { "retry-after": "3600" } }),
    expected: fails("TokenResponseError", 1)
  },
  { area: "token endpoint", fault: "500 once", arrange: tokenFault({ status: 500 }), expected: ok(2) },
  { area: "token endpoint", fault: "502 once", arrange: tokenFault({ status: 502 }), expected: ok(2) },
  { area: "token endpoint", fault: "503 once", arrange: tokenFault({ status: 503 }), expected: ok(2) },
  { area: "token endpoint", fault: "504 once", arrange: tokenFault({ status: 504 }), expected: ok(2) },
  {
    area: "token endpoint",
    fault: "503 on every attempt",
    arrange: tokenFault({ status: 503 }, 100),
    expected: fails("TokenResponseError", 3, 2)
  },
  { area: "token endpoint", fault: "connection dropped once", arrange: tokenFault("drop"), expected: ok(2) },
  {
    area: "token endpoint",
    fault: "connection dropped on every attempt",
    arrange: tokenFault("drop", 100),
    expected: fails("NetworkError", 3, 2)
  },
  {
    area: "token endpoint",
    fault: "hang past tokenTimeout (10 s) once",
    arrange: tokenFault("hang"),
    expected: ok(2, 11)
  },
  {
    area: "token endpoint",
    fault: "slow answer (8 s, under the timeout)",
    arrange: (mock) => mock.setLatency({ token: "8 seconds" }),
    expected: ok(1, 9)
  },
  // --- answers that are not a usable token: final, one request ------------------------
  {
    area: "token endpoint",
    fault: "200 with a non-JSON body",
    arrange: tokenFault(raw(200, "ok", "text/plain")),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "200 with an HTML page",
    arrange: tokenFault(raw(200, "<html><body>Login</body></html>", "text/html")),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "200 with an empty body",
    arrange: tokenFault(raw(200, "")),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "200 with `{}`",
    arrange: tokenFault({ status: 200, body: {} }),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "extra fields (scope, refresh_token, …)",
    arrange: tokenFault(token({ scope: "all", refresh_token: "r", id: 7 })),
    expected: okScripted
  },
  {
    area: "token endpoint",
    fault: "token_type \"mac\"",
    arrange: tokenFault(token({ token_type: "mac" })),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "token_type \"bearer\" (lower case)",
    arrange: tokenFault(token({ token_type: "bearer" })),
    expected: okScripted
  },
  {
    area: "token endpoint",
    fault: "expires_in 0",
    arrange: tokenFault(token({ expires_in: 0 })),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "expires_in -1",
    arrange: tokenFault(token({ expires_in: -1 })),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "expires_in \"3600\" (a string)",
    arrange: tokenFault(token({ expires_in: "3600" })),
    expected: okScripted
  },
  {
    area: "token endpoint",
    fault: "expires_in 1e12 (clamped to 24 days)",
    arrange: tokenFault(token({ expires_in: 1e12 })),
    expected: okScripted
  },
  {
    area: "token endpoint",
    fault: "expires_in NaN (not JSON)",
    arrange: tokenFault(raw(200, `{"access_token":"${SCRIPTED_TOKEN}","token_type":"Bearer","expires_in":NaN}`)),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "expires_in missing",
    arrange: tokenFault({ status: 200, body: { access_token: SCRIPTED_TOKEN, token_type: "Bearer" } }),
    expected: fails("TokenResponseError", 1)
  },
  {
    area: "token endpoint",
    fault: "302 redirect to another origin",
    arrange: tokenFault({ status: 302, headers: { location: "https://elsewhere.example/oauth/v2/token" } }),
    expected: fails("TokenResponseError", 1)
  },
  // --- the API -------------------------------------------------------------------------
  { area: "API", fault: "401 once", arrange: apiFault(invalidToken), expected: ok(2) },
  { area: "API", fault: "401 always", arrange: apiFault(invalidToken, 100), expected: fails("TokenExpiredError", 2) },
  {
    area: "API",
    fault: "403",
    arrange: apiFault({ status: 403, body: { error: "forbidden" } }),
    expected: fails("ApiError", 1)
  },
  {
    area: "API",
    fault: "404",
    arrange: apiFault({ status: 404, body: { error: "not_found" } }),
    expected: fails("ApiError", 1)
  },
  {
    area: "API",
    fault: "429 once, Retry-After: 2",
    arrange: apiFault({ status: 429, headers: { "retry-after": "2" } }),
    expected: ok(1, 3)
  },
  { area: "API", fault: "500", arrange: apiFault({ status: 500 }), expected: fails("ApiError", 1) },
  { area: "API", fault: "503 once", arrange: apiFault({ status: 503 }), expected: ok(1, 2) },
  { area: "API", fault: "503 always", arrange: apiFault({ status: 503 }, 100), expected: fails("ApiError", 1, 10) },
  { area: "API", fault: "hang past requestTimeout (30 s) once", arrange: apiFault("hang"), expected: ok(1, 32) },
  { area: "API", fault: "connection dropped once", arrange: apiFault("drop"), expected: ok(1, 2) },
  {
    area: "API",
    fault: "200 with invalid JSON",
    arrange: apiFault(raw(200, "{not json")),
    expected: fails("ApiDecodeError", 1)
  },
  {
    area: "API",
    fault: "200 with JSON that does not match the schema",
    arrange: () => Effect.void,
    wrongSchema: true,
    expected: fails("ApiDecodeError", 1)
  }
]
