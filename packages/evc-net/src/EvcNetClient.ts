/**
 * Authenticated requests to the EVC-net API.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import type * as UrlParams from "@effect/platform/UrlParams"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { AccessToken } from "./AccessToken.js"
import { Credentials } from "./Credentials.js"
import { EvcNetConfig } from "./EvcNetConfig.js"
import type { EvcNetError } from "./EvcNetError.js"
import { ApiDecodeError, ApiError, NetworkError, RequestEncodeError, TokenExpiredError } from "./EvcNetError.js"
import * as Deadlines from "./internal/deadlines.js"
import { excerpt, parseJson, parseRetryAfter, withAuthorizationRedacted } from "./internal/http.js"
import { TokenCache } from "./TokenCache.js"

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The EVC-net API client: an `HttpClient` that authenticates every request
 * with the current access token, plus typed JSON helpers.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const evc = yield* EvcNetClient
 *   return yield* evc.get("/chargers", { schema: Chargers })
 * })
 * program.pipe(Effect.provide(EvcNetClient.layerConfig), Effect.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category service
 */
export class EvcNetClient extends Context.Tag("effect-evc-net/EvcNetClient")<EvcNetClient, EvcNetClient.Service>() {
  /** The client over a `TokenCache`, an `EvcNetConfig` and an `HttpClient`. */
  static get layer(): Layer.Layer<EvcNetClient, never, TokenCache | EvcNetConfig | HttpClient.HttpClient> {
    return layer
  }

  /**
   * Everything from the environment (`EVC_NET_API_KEY`, …): a program needs
   * only this and an HTTP client layer (`NodeHttpClient.layerUndici` or
   * `FetchHttpClient.layer`).
   */
  static get layerConfig(): Layer.Layer<EvcNetClient, ConfigError.ConfigError, HttpClient.HttpClient> {
    return layerConfig
  }

  /**
   * The client and its own token cache from explicit options:
   * `EvcNetClient.layerWith({ credentials: { apiKey }, config: { apiUrl } })`.
   */
  static layerWith(
    options: TokenCache.LayerOptions
  ): Layer.Layer<EvcNetClient, ConfigError.ConfigError | TokenCache.GetError, HttpClient.HttpClient> {
    return layerAs(EvcNetClient, options)
  }

  /**
   * Like {@link EvcNetClient.layerWith}, under your own tag, so one program
   * can talk to two EVC-net accounts without their tokens mixing:
   *
   * ```ts
   * class Fleet extends Context.Tag("Fleet")<Fleet, EvcNetClient.Service>() {}
   * const FleetLive = EvcNetClient.layerAs(Fleet, { credentials: { apiKey: fleetKey } })
   * ```
   */
  static layerAs<I>(
    tag: Context.Tag<I, EvcNetClient.Service>,
    options: TokenCache.LayerOptions
  ): Layer.Layer<I, ConfigError.ConfigError | TokenCache.GetError, HttpClient.HttpClient> {
    return layerAs(tag, options)
  }

  /** Builds a client from the services in context (what `layer` runs). */
  static get make(): Effect.Effect<EvcNetClient.Service, never, TokenCache | EvcNetConfig | HttpClient.HttpClient> {
    return make
  }

  /**
   * Lets `POST` and `PATCH` requests made inside `effect` through the raw
   * `httpClient` be retried on transient failures. Only for requests that are
   * safe to repeat (an idempotency key, say).
   */
  static retryingNonIdempotent<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.locally(effect, currentRetryNonIdempotent, true)
  }
}

/**
 * @since 0.1.0
 */
export declare namespace EvcNetClient {
  /**
   * @since 0.1.0
   */
  export interface Service {
    /**
     * Resolves relative paths against `apiUrl`, sets `Authorization: Bearer`
     * from the token cache at send time and `accept: application/json`, and
     * applies the client's policies. Statuses the policies do not handle are
     * returned as responses.
     */
    readonly httpClient: HttpClient.HttpClient.With<HttpClientError.HttpClientError | EvcNetError>
    /** `GET path`, the answer decoded with `schema`. */
    readonly get: <A = unknown, I = unknown, R = never>(
      path: string,
      options?: RequestOptions<A, I, R>
    ) => Effect.Effect<A, EvcNetError, R>
    /** `POST path` with `body` as JSON. Not retried on transient failures unless `retryTransient`. */
    readonly post: <A = unknown, I = unknown, R = never>(
      path: string,
      options?: BodyRequestOptions<A, I, R>
    ) => Effect.Effect<A, EvcNetError, R>
    readonly put: <A = unknown, I = unknown, R = never>(
      path: string,
      options?: BodyRequestOptions<A, I, R>
    ) => Effect.Effect<A, EvcNetError, R>
    /** `PATCH path` with `body` as JSON. Not retried on transient failures unless `retryTransient`. */
    readonly patch: <A = unknown, I = unknown, R = never>(
      path: string,
      options?: BodyRequestOptions<A, I, R>
    ) => Effect.Effect<A, EvcNetError, R>
    readonly del: <A = unknown, I = unknown, R = never>(
      path: string,
      options?: RequestOptions<A, I, R>
    ) => Effect.Effect<A, EvcNetError, R>
  }

  /**
   * @since 0.1.0
   */
  export interface RequestOptions<A, I, R> {
    /** Decodes a 2xx JSON answer; without it the JSON is returned as `unknown`. */
    readonly schema?: Schema.Schema<A, I, R> | undefined
    readonly urlParams?: UrlParams.Input | undefined
    readonly headers?: Record<string, string> | undefined
    /** Retry transient failures (NetworkError, 502, 503, 504) even for POST and PATCH. */
    readonly retryTransient?: boolean | undefined
  }

  /**
   * @since 0.1.0
   */
  export interface BodyRequestOptions<A, I, R> extends RequestOptions<A, I, R> {
    /** Sent as JSON. */
    readonly body?: unknown
  }
}

// -----------------------------------------------------------------------------
// constants
// -----------------------------------------------------------------------------

/**
 * Methods a server may receive twice with the same effect (RFC 9110 §9.2.2);
 * only they are retried on transient failures by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

/**
 * Answers that mean "not processed, try again": a gateway or the service
 * itself was unavailable.
 *
 * @since 0.1.0
 * @category constants
 */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

const currentRetryNonIdempotent = globalValue(
  "effect-evc-net/EvcNetClient/currentRetryNonIdempotent",
  () => FiberRef.unsafeMake(false)
)

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Builds the client from the services in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<EvcNetClient.Service, never, TokenCache | EvcNetConfig | HttpClient.HttpClient> =
  Effect.gen(function*() {
    const cache = yield* TokenCache
    const config = yield* EvcNetConfig
    const client = yield* HttpClient.HttpClient
    const policy = config.retry

    const pathOf = (request: HttpClientRequest.HttpClientRequest): string => {
      const path = request.url.startsWith(config.apiUrl) ? request.url.slice(config.apiUrl.length) : request.url
      return path.split(/[?#]/)[0]
    }

    // `requestTimeout`, unless it is infinite. Each attempt runs in a fiber of
    // its own and all share one timer (internal/deadlines.ts); `Effect.timeoutFail`
    // forks two fibers and sets a timer per attempt.
    const deadlines = Duration.isFinite(config.requestTimeout)
      ? yield* Deadlines.make(config.requestTimeout)
      : undefined
    const withRequestTimeout =
      (onTimeout: () => NetworkError) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | NetworkError, R> =>
        deadlines === undefined ? effect : deadlines.timeoutFail(effect, onTimeout)

    // One attempt with `token`; timeouts and transport failures become NetworkError.
    // With `buffer` the body is read inside the attempt, under the same timeout
    // (one timer per attempt instead of two for the JSON helpers).
    const executeWith = (request: HttpClientRequest.HttpClientRequest, token: AccessToken, buffer: boolean) =>
      client.execute(HttpClientRequest.bearerToken(request, token.token)).pipe(
        Effect.flatMap((response): Effect.Effect<Answer, HttpClientError.ResponseError> =>
          buffer ? Effect.map(response.text, (body) => ({ response, body })) : Effect.succeed({ response })
        ),
        Effect.catchIf(
          (error) =>
            (error._tag === "RequestError" && error.reason === "Transport") ||
            (error._tag === "ResponseError" && error.reason === "Decode"),
          (error) =>
            Effect.fail(
              new NetworkError({
                method: request.method,
                url: config.apiUrl + pathOf(request),
                reason: "Transport",
                cause: error.cause
              })
            )
        ),
        withRequestTimeout(() =>
          new NetworkError({
            method: request.method,
            url: config.apiUrl + pathOf(request),
            reason: "Timeout",
            timeout: config.requestTimeout
          })
        )
      )

    // The cache already retried a failed token request (and remembers the
    // failure for a while): retrying it again here would only multiply requests.
    const getToken = Effect.mapError(cache.get, (error) => new TokenUnavailable({ error }))

    // One attempt: a token, then the request with it.
    const attemptOnce = (request: HttpClientRequest.HttpClientRequest, buffer: boolean) =>
      Effect.flatMap(
        getToken,
        (token) => Effect.map(executeWith(request, token, buffer), (answer): Sent => ({ token, answer }))
      )

    // Policy 1: a 401 invalidates exactly the token that was sent and the
    // request goes again with a fresh one, at most once per logical request.
    // `sent` is the outcome of the attempt, already made.
    const authenticated = (
      request: HttpClientRequest.HttpClientRequest,
      refreshed: { done: boolean },
      buffer: boolean,
      sent: Effect.Effect<Sent, TokenUnavailable | NetworkError | HttpClientError.HttpClientError>
    ) =>
      Effect.gen(function*() {
        const { answer, token } = yield* sent
        if (answer.response.status !== 401) return answer
        if (refreshed.done) return yield* tokenRefused(answer)
        refreshed.done = true
        yield* discard(answer)
        yield* cache.invalidate(token)
        const again = yield* executeWith(request, yield* getToken, buffer)
        return again.response.status === 401 ? yield* tokenRefused(again) : again
      })

    // Policies 2 and 3: 429 for any method; 502/503/504 and NetworkError for
    // idempotent methods (or when the caller opts in). Bounded by maxRetries.
    // `first` is the outcome of the first attempt, which `send` has made.
    const withPolicies = (
      request: HttpClientRequest.HttpClientRequest,
      retryTransient: boolean,
      buffer: boolean,
      first: Exit.Exit<Sent, TokenUnavailable | NetworkError | HttpClientError.HttpClientError>
    ) =>
      Effect.gen(function*() {
        const refreshed = { done: false }
        const mayRetryTransient = retryTransient || IDEMPOTENT_METHODS.has(request.method) ||
          (yield* FiberRef.get(currentRetryNonIdempotent))
        let pending: typeof first | undefined = first
        const attempt = Effect.suspend(() => {
          const sent = pending ?? attemptOnce(request, buffer)
          pending = undefined
          return authenticated(request, refreshed, buffer, sent)
        }).pipe(
          Effect.flatMap((answer) =>
            answer.response.status === 429 || TRANSIENT_STATUSES.has(answer.response.status)
              ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
                Effect.fail(
                  new Retryable({ answer, retryAfter: parseRetryAfter(answer.response.headers["retry-after"], now) })
                ))
              : Effect.succeed(answer)
          )
        )
        const retryable = (error: Effect.Effect.Error<typeof attempt>): boolean =>
          error._tag === "Retryable"
            ? (error.answer.response.status === 429 || mayRetryTransient) &&
              Duration.lessThanOrEqualTo(error.retryAfter ?? Duration.zero, policy.retryAfterCap)
            : error._tag === "NetworkError" && mayRetryTransient
        return yield* attempt.pipe(
          // the schedule is built only once a retry is due; the first failure is
          // replayed into it so that it sets the first delay
          Effect.catchIf(retryable, (failure) => {
            let replay = true
            return Effect.retry(
              Effect.suspend(() => replay ? (replay = false, Effect.fail(failure)) : attempt),
              { schedule: retrySchedule(policy), while: retryable }
            )
          }),
          Effect.catchTags({
            Retryable: ({ answer, retryAfter }) => apiError(request, answer, retryAfter),
            TokenUnavailable: ({ error }) => Effect.fail(error)
          })
        )
      })

    // A logical request. Most end with their first attempt answered by
    // something no policy acts on; they take the short way, and only the rest
    // pay for the policies (which start from that first outcome, not again).
    const sendUntraced = (request: HttpClientRequest.HttpClientRequest, retryTransient: boolean, buffer: boolean) =>
      attemptOnce(request, buffer).pipe(
        Effect.matchEffect({
          onSuccess: (sent) =>
            needsPolicy(sent.answer.response.status)
              ? withPolicies(request, retryTransient, buffer, Exit.succeed(sent))
              : Effect.succeed(sent.answer),
          onFailure: (error) =>
            error._tag === "TokenUnavailable"
              ? Effect.fail(error.error)
              : withPolicies(request, retryTransient, buffer, Exit.fail(error))
        }),
        withAuthorizationRedacted
      )

    // In a span of its own, unless the platform would trace none of it: tracing
    // off, or `HttpClient.currentTracerDisabledWhen` says so for this request.
    const send = (request: HttpClientRequest.HttpClientRequest, retryTransient: boolean, buffer: boolean) =>
      Effect.withFiberRuntime<Answer, EvcNetError | HttpClientError.HttpClientError>((fiber) =>
        !fiber.getFiberRef(FiberRef.currentTracerEnabled) ||
          fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)
          ? sendUntraced(request, retryTransient, buffer)
          : Effect.useSpan("EvcNet.request", {
            kind: "client",
            // the caller's own span has the interesting call site; capturing one here costs ~10 % throughput
            captureStackTrace: false,
            attributes: { "http.request.method": request.method, "url.path": pathOf(request) }
          }, (span) =>
            sendUntraced(request, retryTransient, buffer).pipe(
              // the span in hand: `Effect.annotateCurrentSpan` would look it up
              Effect.tap((answer) =>
                Effect.sync(() => span.attribute("http.response.status_code", answer.response.status))
              ),
              Effect.withParentSpan(span)
            ))
      )

    const apiError = (
      request: HttpClientRequest.HttpClientRequest,
      answer: Answer,
      retryAfter?: Duration.Duration
    ) =>
      Effect.flatMap(
        answer.body === undefined ? Effect.orElseSucceed(answer.response.text, () => "") : Effect.succeed(answer.body),
        (body) =>
          Effect.fail(
            new ApiError({
              method: request.method,
              path: pathOf(request),
              status: answer.response.status,
              bodyExcerpt: excerpt(body, []),
              retryAfter
            })
          )
      )

    const httpClient: EvcNetClient.Service["httpClient"] = HttpClient.makeWith(
      (request: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
        Effect.flatMap(request, (request) => Effect.map(send(request, false, false), (answer) => answer.response)),
      (request) => Effect.succeed(resolve(request, config.apiUrl))
    )

    const json = (method: HttpMethod.HttpMethod, hasBody: boolean) =>
    <A, I, R>(
      path: string,
      options: EvcNetClient.BodyRequestOptions<A, I, R> = {}
    ): Effect.Effect<A, EvcNetError, R> =>
      Effect.suspend(() => {
        const request = resolve(
          HttpClientRequest.make(method)(path, {
            ...(options.urlParams === undefined ? {} : { urlParams: options.urlParams }),
            ...(options.headers === undefined ? {} : { headers: options.headers })
          }),
          config.apiUrl
        )
        const encoded = hasBody && options.body !== undefined
          ? HttpClientRequest.bodyJson(request, options.body).pipe(
            Effect.mapError((error) =>
              new RequestEncodeError({
                method,
                path: pathOf(request),
                description: `the JSON body could not be encoded (${String(error.reason._tag)})`
              })
            )
          )
          : Effect.succeed(request)
        return Effect.flatMap(encoded, (request) =>
          send(request, options.retryTransient === true, true).pipe(
            Effect.catchTags({
              RequestError: (error) =>
                Effect.fail(
                  new RequestEncodeError({ method, path: pathOf(request), description: `${error.reason} request` })
                ),
              ResponseError: (error) =>
                Effect.fail(
                  new NetworkError({
                    method,
                    url: config.apiUrl + pathOf(request),
                    reason: "Transport",
                    cause: error.cause
                  })
                )
            }),
            Effect.flatMap((answer): Effect.Effect<A, EvcNetError, R> => {
              const status = answer.response.status
              return status < 200 || status >= 300
                ? apiError(request, answer)
                : decodeBody(answer.body ?? "", options.schema, { method, path: pathOf(request), status })
            })
          ))
      })

    return EvcNetClient.of({
      httpClient,
      get: json("GET", false),
      post: json("POST", true),
      put: json("PUT", true),
      patch: json("PATCH", true),
      del: json("DELETE", false)
    })
  })

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EvcNetClient, never, TokenCache | EvcNetConfig | HttpClient.HttpClient> = Layer
  .effect(EvcNetClient, make)

/**
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<EvcNetClient, ConfigError.ConfigError, HttpClient.HttpClient> = layer.pipe(
  Layer.provide(TokenCache.layer),
  Layer.provide(Layer.merge(Credentials.layerConfig, EvcNetConfig.layerConfig))
)

/**
 * A client with its own token cache, credentials and config, under `tag`.
 *
 * The token cache layer is `Layer.fresh`: Effect memoizes layers by
 * reference, so without it two accounts in one program would share the
 * first account's cache.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAs = <I>(
  tag: Context.Tag<I, EvcNetClient.Service>,
  options: TokenCache.LayerOptions
): Layer.Layer<I, ConfigError.ConfigError | TokenCache.GetError, HttpClient.HttpClient> =>
  Layer.effect(tag, make).pipe(
    Layer.provide(Layer.fresh(options.eager === true ? TokenCache.layerEager : TokenCache.layer)),
    Layer.provide(Layer.merge(Credentials.layer(options.credentials), EvcNetConfig.layer(options.config)))
  )

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

/** A token error on its way past the retry policy, which must not retry it. */
class TokenUnavailable extends Data.TaggedError("TokenUnavailable")<{ readonly error: TokenCache.GetError }> {}

/** A response the retry policy may retry (429, 502, 503, 504). */
class Retryable extends Data.TaggedError("Retryable")<{
  readonly answer: Answer
  readonly retryAfter?: Duration.Duration | undefined
}> {}

/** Statuses a policy acts on: 401 (refresh once), 429 and the transient ones (retry). */
const needsPolicy = (status: number): boolean => status === 401 || status === 429 || TRANSIENT_STATUSES.has(status)

/** An attempt's answer and the token it was sent with. */
interface Sent {
  readonly token: AccessToken
  readonly answer: Answer
}

/** A response, with its body when the attempt read it. */
interface Answer {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly body?: string
}

/** Relative paths resolve against `apiUrl`: `"/chargers"` and `"chargers"` alike. */
const resolve = (request: HttpClientRequest.HttpClientRequest, apiUrl: string): HttpClientRequest.HttpClientRequest =>
  request.url.startsWith("http://") || request.url.startsWith("https://")
    ? HttpClientRequest.acceptJson(request)
    : HttpClientRequest.acceptJson(
      HttpClientRequest.setUrl(request, apiUrl + (request.url.startsWith("/") ? request.url : `/${request.url}`))
    )

/**
 * Backoff for transient failures (exponential, capped, jittered); a 429 waits
 * its `Retry-After` (or the default) instead; at most `maxRetries` retries.
 */
const retrySchedule = (policy: EvcNetConfig.RetryPolicy) =>
  Schedule.identity<Retryable | TokenUnavailable | EvcNetError | HttpClientError.HttpClientError>().pipe(
    Schedule.intersect(
      Schedule.exponential(policy.base).pipe(Schedule.either(Schedule.spaced(policy.cap)), Schedule.jittered)
    ),
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.modifyDelay(([[error]], delay) =>
      error._tag === "Retryable" && error.answer.response.status === 429
        ? error.retryAfter ?? policy.retryAfterDefault
        : error._tag === "Retryable" && error.retryAfter !== undefined
        ? Duration.max(delay, error.retryAfter)
        : delay
    )
  )

const discard = (answer: Answer) => answer.body === undefined ? Effect.ignore(answer.response.text) : Effect.void

/** A 401 after the one refresh: the API refuses fresh tokens. */
const tokenRefused = (answer: Answer) => {
  const { response } = answer
  const challenge = parseChallenge(response.headers["www-authenticate"])
  return Effect.zipRight(
    discard(answer),
    Effect.fail(
      new TokenExpiredError({
        status: response.status,
        error: challenge.error,
        errorDescription: challenge.errorDescription,
        description: "the API refused a freshly fetched access token"
      })
    )
  )
}

/** The `error` and `error_description` of a `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3). */
const parseChallenge = (header: string | undefined) => ({
  error: header === undefined ? undefined : /error="([^"]*)"/.exec(header)?.[1],
  errorDescription: header === undefined ? undefined : /error_description="([^"]*)"/.exec(header)?.[1]
})

const decodeBody = <A, I, R>(
  body: string,
  schema: Schema.Schema<A, I, R> | undefined,
  where: { readonly method: string; readonly path: string; readonly status: number }
): Effect.Effect<A, ApiDecodeError, R> => {
  const json = body.trim() === "" ? { ok: true as const, value: undefined } : parseJson(body)
  if (!json.ok) return Effect.fail(new ApiDecodeError({ ...where, issues: ["the body is not JSON"] }))
  if (schema === undefined) return Effect.succeed(json.value as A)
  return Schema.decodeUnknown(schema, { errors: "all" })(json.value).pipe(
    Effect.mapError((error) =>
      new ApiDecodeError({
        ...where,
        issues: ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
          `${issue.path.length === 0 ? "(root)" : issue.path.join(".")}: ${issue.message}`
        )
      })
    )
  )
}
