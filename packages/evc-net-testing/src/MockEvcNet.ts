/**
 * An embedded stand-in for EVC-net: the token endpoint exactly as EVC-net's
 * "Get access token" page describes it, and a protected `/v1` API that only
 * accepts unexpired bearer tokens it issued.
 *
 * EVC-net's own resources are not documented in our reference, so the API
 * serves clearly labelled demo resources under `/v1/demo/…` plus the routes
 * you register; it never pretends to be EVC-net's real schema.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createServer } from "node:http"

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The stand-in: its HTTP handler, its URLs, controls for tests and counters.
 *
 * @since 0.1.0
 * @category service
 */
export class MockEvcNet extends Context.Tag("effect-evc-net-testing/MockEvcNet")<MockEvcNet, MockEvcNet.Service>() {
  /** The stand-in without a socket, at `https://evc-net.test` (see `EvcNetTest.layer`). */
  static layer(options?: MockEvcNet.Options): Layer.Layer<MockEvcNet> {
    return Layer.effect(MockEvcNet, make(options))
  }

  /**
   * The stand-in on a real loopback socket (`127.0.0.1`, port 0 by default),
   * for demos, examples, benchmarks, the CLI and integration tests. `urls`
   * holds the token and API URLs to configure a client with.
   */
  static layerServer(
    options?: MockEvcNet.ServerOptions
  ): Layer.Layer<MockEvcNet, HttpServerError.ServeError> {
    return layerServer(options)
  }
}

/**
 * @since 0.1.0
 */
export declare namespace MockEvcNet {
  /**
   * @since 0.1.0
   */
  export interface Service {
    /** Where the stand-in answers. */
    readonly urls: Urls
    /** The accounts it accepts; the first is the one `EvcNetTest` logs in with. */
    readonly accounts: ReadonlyArray<Account>
    /** Answers one request: the whole stand-in as an `@effect/platform` handler. */
    readonly handle: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<Outcome>
    /** Registers (or replaces) an API route below `/v1`; `:name` segments become `params`. */
    readonly route: (method: string, path: string, handler: RouteHandler) => Effect.Effect<void>
    /** Lifetime (`expires_in`) of tokens issued from now on. */
    readonly setTokenLifetime: (lifetime: Duration.DurationInput) => Effect.Effect<void>
    /** Added before every token or API answer (driven by the `Clock`, so `TestClock` controls it). */
    readonly setLatency: (latency: Latency) => Effect.Effect<void>
    /** The next `count` token or API requests get `fault` instead of their answer. */
    readonly failNext: (target: Target, count: number, fault: Fault) => Effect.Effect<void>
    /** Drops every fault still queued by `failNext`. */
    readonly clearFaults: Effect.Effect<void>
    /** Every issued token stops working (the API answers 401 `invalid_token`). */
    readonly revokeAll: Effect.Effect<void>
    /**
     * Rate limit: the next `requests` API requests (default: all until
     * cleared) answer 429 with `Retry-After: retryAfter` seconds. `undefined` clears it.
     */
    readonly rateLimit: (
      limit: { readonly retryAfterSeconds: number; readonly requests?: number } | undefined
    ) => Effect.Effect<void>
    readonly counters: Effect.Effect<Counters>
    readonly resetCounters: Effect.Effect<void>
  }

  /**
   * @since 0.1.0
   */
  export interface Options {
    /** Default: one account with {@link DEMO_API_KEY}, any `client_id`. */
    readonly accounts?: ReadonlyArray<Account> | undefined
    /** Default 1 hour, like the page's `expires_in: 3600`. */
    readonly tokenLifetime?: Duration.DurationInput | undefined
    readonly latency?: Latency | undefined
    /** Default `https://evc-net.test` (never contacted: the in-process client answers). */
    readonly baseUrl?: string | undefined
  }

  /**
   * @since 0.1.0
   */
  export interface ServerOptions extends Omit<Options, "baseUrl"> {
    /** Default 0: any free port. */
    readonly port?: number | undefined
  }

  /**
   * @since 0.1.0
   */
  export interface Account {
    readonly apiKey: string
    /** When set, only this `client_id` is accepted; by default any label is, as on EVC-net. */
    readonly clientId?: string | undefined
  }

  /**
   * @since 0.1.0
   */
  export interface Urls {
    readonly baseUrl: string
    readonly tokenUrl: string
    readonly apiUrl: string
  }

  /**
   * @since 0.1.0
   */
  export interface Latency {
    readonly token?: Duration.DurationInput | undefined
    readonly api?: Duration.DurationInput | undefined
  }

  /**
   * @since 0.1.0
   */
  export type Target = "token" | "api"

  /**
   * A scripted failure: an answer with this status, body and headers; a
   * dropped connection; or no answer at all.
   *
   * @since 0.1.0
   */
  export type Fault =
    | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> | undefined }
    | "drop"
    | "hang"

  /**
   * @since 0.1.0
   */
  export interface Counters {
    /** Every request to the token endpoint, whatever its answer. */
    readonly tokenRequests: number
    readonly tokensIssued: number
    /** Every request below `/v1`. */
    readonly apiRequests: number
    /** API answers by HTTP status. */
    readonly apiByStatus: Readonly<Record<number, number>>
  }

  /**
   * @since 0.1.0
   */
  export interface RouteRequest {
    readonly method: string
    /** Below `/v1`, e.g. `/chargers/CP-1`. */
    readonly path: string
    readonly params: Readonly<Record<string, string>>
    readonly query: URLSearchParams
    /** The JSON body, or `undefined`. */
    readonly body: unknown
    /** The `client_id` the token was issued to. */
    readonly clientId: string
  }

  /**
   * @since 0.1.0
   */
  export interface RouteReply {
    readonly status?: number | undefined
    readonly body?: unknown
    readonly headers?: Record<string, string> | undefined
  }

  /**
   * @since 0.1.0
   */
  export type RouteHandler = (request: RouteRequest) => RouteReply | Effect.Effect<RouteReply>

  /**
   * What the handler did: answered, or dropped the connection.
   *
   * @since 0.1.0
   */
  export type Outcome =
    | { readonly _tag: "Respond"; readonly response: HttpServerResponse.HttpServerResponse }
    | { readonly _tag: "Drop" }
}

// -----------------------------------------------------------------------------
// constants
// -----------------------------------------------------------------------------

/**
 * The API key of the stand-in's default account. Not a secret: it only opens
 * the stand-in.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEMO_API_KEY = "00000000-demo-4000-8000-evcnetmock00"

/**
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_BASE_URL = "https://evc-net.test"

/**
 * A label in every demo answer, so nobody mistakes demo data for EVC-net's.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEMO_NOTICE = "Demo data from the effect-evc-net stand-in. Not EVC-net's API or schema."

const TOKEN_PATH = "/oauth/v2/token"
const SWEEP_MIN = 256
const API_PREFIX = "/v1"

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Builds the stand-in. Token expiry follows Effect's `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: MockEvcNet.Options = {}): Effect.Effect<MockEvcNet.Service> =>
  Effect.sync(() => {
    const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
    const accounts = options.accounts ?? [{ apiKey: DEMO_API_KEY }]
    let lifetime = Duration.decode(options.tokenLifetime ?? Duration.hours(1))
    let latency: MockEvcNet.Latency = options.latency ?? {}
    const faults: Record<MockEvcNet.Target, Array<MockEvcNet.Fault>> = { token: [], api: [] }
    let limit: { readonly retryAfterSeconds: number; remaining: number } | undefined
    const tokens = new Map<string, { readonly expiresAt: number; readonly clientId: string }>()
    let sweepAt = SWEEP_MIN
    const routes: Array<Route> = [...demoRoutes]
    let issued = 0
    let counters = emptyCounters()

    const delay = (target: MockEvcNet.Target) => {
      const value = latency[target]
      return value === undefined ? Effect.void : Effect.sleep(value)
    }

    const takeFault = (target: MockEvcNet.Target): MockEvcNet.Fault | undefined => faults[target].shift()

    const countApi = (outcome: MockEvcNet.Outcome): MockEvcNet.Outcome => {
      if (outcome._tag === "Respond") {
        const status = outcome.response.status
        counters = {
          ...counters,
          apiByStatus: { ...counters.apiByStatus, [status]: (counters.apiByStatus[status] ?? 0) + 1 }
        }
      }
      return outcome
    }

    const tokenEndpoint = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        counters = { ...counters, tokenRequests: counters.tokenRequests + 1 }
        yield* delay("token")
        const fault = takeFault("token")
        if (fault !== undefined) return yield* answerFault(fault)
        if (request.method !== "POST") {
          return respond(HttpServerResponse.empty({ status: 405, headers: { allow: "POST" } }))
        }
        const client = authenticate(request.headers["authorization"], accounts)
        if (client === undefined) {
          return respond(
            oauthError(401, "invalid_client", "Client authentication failed", {
              "www-authenticate": "Basic realm=\"EVC-net\""
            })
          )
        }
        const contentType = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase()
        if (contentType !== "application/x-www-form-urlencoded") {
          return respond(oauthError(400, "invalid_request", "content-type must be application/x-www-form-urlencoded"))
        }
        const form = new URLSearchParams(yield* Effect.orElseSucceed(request.text, () => ""))
        const grantType = form.get("grant_type")
        if (grantType === null) return respond(oauthError(400, "invalid_request", "grant_type is required"))
        if (grantType !== "client_credentials") {
          return respond(oauthError(400, "unsupported_grant_type", "only client_credentials is supported"))
        }
        const now = yield* Clock.currentTimeMillis
        const token = `mock-${++issued}-${globalThis.crypto.randomUUID()}`
        if (tokens.size >= sweepAt) {
          // forget expired tokens now and then (amortised O(1)), so a long run does not grow
          for (const [key, grant] of tokens) if (grant.expiresAt <= now) tokens.delete(key)
          sweepAt = Math.max(SWEEP_MIN, 2 * tokens.size)
        }
        tokens.set(token, { expiresAt: now + Duration.toMillis(lifetime), clientId: client })
        counters = { ...counters, tokensIssued: counters.tokensIssued + 1 }
        return respond(HttpServerResponse.unsafeJson(
          { access_token: token, token_type: "Bearer", expires_in: Duration.toSeconds(lifetime) },
          { headers: { "cache-control": "no-store", pragma: "no-cache" } }
        ))
      })

    const api = (request: HttpServerRequest.HttpServerRequest, path: string, query: URLSearchParams) =>
      Effect.gen(function*() {
        counters = { ...counters, apiRequests: counters.apiRequests + 1 }
        yield* delay("api")
        const fault = takeFault("api")
        if (fault !== undefined) return yield* answerFault(fault)
        const bearer = /^Bearer (.+)$/i.exec(request.headers["authorization"] ?? "")?.[1]
        if (bearer === undefined) {
          return respond(HttpServerResponse.unsafeJson(
            { error: "invalid_request", error_description: "Authorization: Bearer <access_token> is required" },
            { status: 401, headers: { "www-authenticate": "Bearer realm=\"EVC-net\"" } }
          ))
        }
        const now = yield* Clock.currentTimeMillis
        const grant = tokens.get(bearer)
        if (grant === undefined || grant.expiresAt <= now) {
          return respond(HttpServerResponse.unsafeJson(
            { error: "invalid_token", error_description: "The access token is unknown, expired or revoked" },
            {
              status: 401,
              headers: {
                "www-authenticate":
                  "Bearer realm=\"EVC-net\", error=\"invalid_token\", error_description=\"The access token is unknown, expired or revoked\""
              }
            }
          ))
        }
        if (limit !== undefined) {
          const retryAfter = limit.retryAfterSeconds
          limit.remaining--
          if (limit.remaining <= 0) limit = undefined
          return respond(HttpServerResponse.unsafeJson(
            { error: "rate_limited" },
            { status: 429, headers: { "retry-after": String(retryAfter) } }
          ))
        }
        const match = findRoute(routes, request.method, path)
        if (match === undefined) {
          return respond(HttpServerResponse.unsafeJson({ error: "not_found", path }, { status: 404 }))
        }
        const text = yield* Effect.orElseSucceed(request.text, () => "")
        const body = text === "" ? undefined : Either.getOrUndefined(Either.try(() => JSON.parse(text) as unknown))
        const handled = match.route.handler({
          method: request.method,
          path,
          params: match.params,
          query,
          body,
          clientId: grant.clientId
        })
        const reply = Effect.isEffect(handled) ? yield* handled : handled
        return respond(
          reply.body === undefined
            ? HttpServerResponse.empty({ status: reply.status ?? 204, headers: reply.headers ?? {} })
            : HttpServerResponse.unsafeJson(reply.body, { status: reply.status ?? 200, headers: reply.headers ?? {} })
        )
      }).pipe(Effect.map(countApi))

    const handle = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<MockEvcNet.Outcome> => {
      const url = new URL(request.url, baseUrl)
      if (url.pathname === TOKEN_PATH) return tokenEndpoint(request)
      if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
        return api(request, url.pathname.slice(API_PREFIX.length) || "/", url.searchParams)
      }
      return Effect.succeed(respond(HttpServerResponse.unsafeJson({ error: "not_found" }, { status: 404 })))
    }

    return MockEvcNet.of({
      urls: { baseUrl, tokenUrl: `${baseUrl}${TOKEN_PATH}`, apiUrl: `${baseUrl}${API_PREFIX}` },
      accounts,
      handle,
      route: (method, path, handler) =>
        Effect.sync(() => {
          const route = makeRoute(method, path, handler)
          const existing = routes.findIndex((r) => r.method === route.method && r.path === route.path)
          if (existing >= 0) routes.splice(existing, 1)
          routes.unshift(route)
        }),
      setTokenLifetime: (value) => Effect.sync(() => void (lifetime = Duration.decode(value))),
      setLatency: (value) => Effect.sync(() => void (latency = value)),
      failNext: (target, count, fault) =>
        Effect.sync(() => {
          for (let i = 0; i < count; i++) faults[target].push(fault)
        }),
      clearFaults: Effect.sync(() => {
        faults.token.length = 0
        faults.api.length = 0
      }),
      revokeAll: Effect.sync(() => tokens.clear()),
      rateLimit: (value) =>
        Effect.sync(() => {
          limit = value === undefined
            ? undefined
            : { retryAfterSeconds: value.retryAfterSeconds, remaining: value.requests ?? Number.POSITIVE_INFINITY }
        }),
      counters: Effect.sync(() => counters),
      resetCounters: Effect.sync(() => void (counters = emptyCounters()))
    })
  })

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The stand-in on `127.0.0.1`; the socket closes with the layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options: MockEvcNet.ServerOptions = {}
): Layer.Layer<MockEvcNet, HttpServerError.ServeError> =>
  Layer.scoped(
    MockEvcNet,
    Effect.gen(function*() {
      const server = yield* NodeHttpServer.make(createServer, { port: options.port ?? 0, host: "127.0.0.1" })
      const address = server.address
      const port = address._tag === "TcpAddress" ? address.port : 0
      const mock = yield* make({ ...options, baseUrl: `http://127.0.0.1:${port}` })
      yield* server.serve(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
          return Effect.flatMap(mock.handle(request), (outcome) => {
            if (outcome._tag === "Respond") {
              return Effect.succeed(outcome.response)
            }
            // no answer at all: the socket is gone, and the handler ends so no fiber is left behind
            socket.destroy()
            return Effect.interrupt
          }).pipe(
            // @effect/platform runs handlers uninterruptibly and interrupts them when the
            // client goes away: opt in, so a "hang" ends with its connection
            Effect.interruptible
          )
        })
      )
      return mock
    })
  )

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

interface Route {
  readonly method: string
  readonly path: string
  readonly segments: ReadonlyArray<string>
  readonly handler: MockEvcNet.RouteHandler
}

const makeRoute = (method: string, path: string, handler: MockEvcNet.RouteHandler): Route => {
  const normalized = path.startsWith("/") ? path : `/${path}`
  return { method: method.toUpperCase(), path: normalized, segments: normalized.split("/").slice(1), handler }
}

const findRoute = (routes: ReadonlyArray<Route>, method: string, path: string) => {
  const segments = path.split("/").slice(1)
  for (const route of routes) {
    if (route.method !== method || route.segments.length !== segments.length) continue
    const params: Record<string, string> = {}
    const matches = route.segments.every((segment, i) => {
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = decodeURIComponent(segments[i])
        return true
      }
      return segment === segments[i]
    })
    if (matches) return { route, params }
  }
  return undefined
}

const DEMO_CHARGERS = [
  { id: "DEMO-CP-001", name: "Demo depot, bay 1", status: "Available", maxPowerKw: 22 },
  { id: "DEMO-CP-002", name: "Demo depot, bay 2", status: "Charging", maxPowerKw: 22 },
  { id: "DEMO-CP-003", name: "Demo street, fast", status: "Faulted", maxPowerKw: 150 }
]

const demoRoutes: ReadonlyArray<Route> = [
  makeRoute("GET", "/demo/chargers", () => ({ body: { notice: DEMO_NOTICE, chargers: DEMO_CHARGERS } })),
  makeRoute("GET", "/demo/chargers/:id", ({ params }) => {
    const charger = DEMO_CHARGERS.find((c) => c.id === params.id)
    return charger === undefined
      ? { status: 404, body: { error: "not_found", notice: DEMO_NOTICE } }
      : { body: { notice: DEMO_NOTICE, charger } }
  }),
  makeRoute("POST", "/demo/echo", ({ body }) => ({ body: { notice: DEMO_NOTICE, received: body } })),
  makeRoute("GET", "/demo/whoami", ({ clientId }) => ({ body: { notice: DEMO_NOTICE, clientId } }))
]

const emptyCounters = (): MockEvcNet.Counters => ({
  tokenRequests: 0,
  tokensIssued: 0,
  apiRequests: 0,
  apiByStatus: {}
})

const respond = (response: HttpServerResponse.HttpServerResponse): MockEvcNet.Outcome => ({ _tag: "Respond", response })

const answerFault = (fault: MockEvcNet.Fault): Effect.Effect<MockEvcNet.Outcome> => {
  if (fault === "hang") return Effect.never
  if (fault === "drop") return Effect.succeed({ _tag: "Drop" })
  const headers = fault.headers ?? {}
  return Effect.succeed(respond(
    fault.body === undefined
      ? HttpServerResponse.empty({ status: fault.status, headers })
      : typeof fault.body === "string"
      ? HttpServerResponse.text(fault.body, { status: fault.status, headers })
      : HttpServerResponse.unsafeJson(fault.body, { status: fault.status, headers })
  ))
}

const oauthError = (status: number, error: string, description: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(
    { error, error_description: description },
    { status, headers: { "cache-control": "no-store", ...headers } }
  )

/** The `client_id` of valid Basic credentials, else `undefined`. */
const authenticate = (header: string | undefined, accounts: ReadonlyArray<MockEvcNet.Account>): string | undefined => {
  const encoded = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? "")?.[1]
  if (encoded === undefined) return undefined
  const decoded = Option.getOrUndefined(Either.getRight(Encoding.decodeBase64String(encoded)))
  if (decoded === undefined) return undefined
  const colon = decoded.indexOf(":")
  if (colon < 0) return undefined
  const matches = (clientId: string, apiKey: string) =>
    accounts.some((account) =>
      account.apiKey === apiKey && (account.clientId === undefined || account.clientId === clientId)
    )
  const clientId = decoded.slice(0, colon)
  const apiKey = decoded.slice(colon + 1)
  if (matches(clientId, apiKey)) return clientId
  // RFC 6749 §2.3.1: clients may form-urlencode both parts first (openid-client
  // and @badgateway/oauth2-client do, turning "-" into "%2D"); accept that too
  const formDecoded = (value: string) => {
    try {
      return decodeURIComponent(value.replace(/\+/g, " "))
    } catch {
      return undefined
    }
  }
  const id = formDecoded(clientId)
  const key = formDecoded(apiKey)
  return id !== undefined && key !== undefined && matches(id, key) ? id : undefined
}
