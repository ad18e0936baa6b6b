/**
 * Where EVC-net is, how long to wait for it, and when to refresh tokens.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Record from "effect/Record"
import { named, validated } from "./internal/validation.js"

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The validated configuration every other service reads.
 *
 * @since 0.1.0
 * @category service
 */
export class EvcNetConfig extends Context.Tag("effect-evc-net/EvcNetConfig")<EvcNetConfig, EvcNetConfig.Service>() {
  /**
   * Configuration from plain options; every option has a documented default.
   * Fails with a `ConfigError` naming the option (never its value).
   */
  static layer(options?: EvcNetConfig.Options): Layer.Layer<EvcNetConfig, ConfigError.ConfigError> {
    return layer(options)
  }

  /**
   * Configuration from `EVC_NET_TOKEN_URL`, `EVC_NET_API_URL`,
   * `EVC_NET_TOKEN_TIMEOUT` and `EVC_NET_REQUEST_TIMEOUT`, each optional.
   * The refresh policy keeps its defaults; use {@link EvcNetConfig.layerConfigWith} to set it.
   */
  static get layerConfig(): Layer.Layer<EvcNetConfig, ConfigError.ConfigError> {
    return layerConfig
  }

  /**
   * Configuration from the environment over `options`: a variable that is set
   * wins, so operators can move URLs and timeouts without a code change.
   */
  static layerConfigWith(options?: EvcNetConfig.Options): Layer.Layer<EvcNetConfig, ConfigError.ConfigError> {
    return layerConfigWith(options)
  }
}

/**
 * @since 0.1.0
 */
export declare namespace EvcNetConfig {
  /**
   * @since 0.1.0
   */
  export interface Service {
    /** Absolute `https:` URL of the token endpoint (`http:` only on loopback). */
    readonly tokenUrl: string
    /** Absolute `https:` base URL of the API, without a trailing slash. */
    readonly apiUrl: string
    /** Timeout of one token request, body included. */
    readonly tokenTimeout: Duration.Duration
    /**
     * Timeout of one API request attempt, body included for the JSON helpers
     * (`httpClient` callers read the body themselves). `Duration.infinity` turns
     * it off, saving the one fiber each attempt runs in, for programs that rely
     * on their HTTP client's own timeouts.
     */
    readonly requestTimeout: Duration.Duration
    readonly refresh: RefreshPolicy
    readonly retry: RetryPolicy
  }

  /**
   * When the token cache refreshes and how it retries. See the README's
   * "Token lifecycle" for the timeline.
   *
   * @since 0.1.0
   */
  export interface RefreshPolicy {
    /**
     * Start the background refresh this long before expiry, but never before
     * half the lifetime has passed. Smaller means less time to survive an
     * outage of the token endpoint; larger means more token requests.
     */
    readonly refreshBefore: Duration.Duration
    /**
     * Stop handing out a token this long before its expiry, scaled down to a
     * tenth of the lifetime for short-lived tokens. Covers clock disagreement
     * and the time a request spends in flight; zero risks 401s at expiry.
     */
    readonly expirySkew: Duration.Duration
    /** First delay of the background retry after a failed refresh; doubles. */
    readonly retryBase: Duration.Duration
    /**
     * Largest delay between background retries, and between cold fetches
     * after a failure. Lower hammers a failing endpoint; higher recovers later.
     */
    readonly retryCap: Duration.Duration
    /** Attempts of a fetch that a caller waits for (no valid token). */
    readonly coldAttempts: number
    /** First delay between those attempts; doubles. */
    readonly coldRetryBase: Duration.Duration
    /**
     * Longest a waiting caller is kept for one retry (e.g. a long
     * `Retry-After`); past it the caller gets the error at once.
     */
    readonly coldMaxDelay: Duration.Duration
    /**
     * Lifetimes above this are treated as this long, so the refresh timer
     * always fires (timers cannot exceed ~24.8 days).
     */
    readonly maxLifetime: Duration.Duration
  }

  /**
   * How `EvcNetClient` retries API requests. See the README's
   * "Using EvcNetClient" for the policies.
   *
   * @since 0.1.0
   */
  export interface RetryPolicy {
    /**
     * Retries of one request for 429 and transient failures (the 401 refresh
     * is separate and happens at most once). Higher rides out longer outages
     * but holds callers longer.
     */
    readonly maxRetries: number
    /** First delay before retrying a transient failure; doubles, ±20 % jitter. */
    readonly base: Duration.Duration
    /** Largest delay between transient retries. */
    readonly cap: Duration.Duration
    /** Wait after a 429 that carries no (readable) `Retry-After`. */
    readonly retryAfterDefault: Duration.Duration
    /**
     * Longest `Retry-After` the client waits out; a longer one fails at once
     * with `ApiError` (status 429, `retryAfter` set), so no caller hangs.
     */
    readonly retryAfterCap: Duration.Duration
  }

  /**
   * @since 0.1.0
   */
  export interface Options {
    readonly tokenUrl?: string | URL | undefined
    readonly apiUrl?: string | URL | undefined
    readonly tokenTimeout?: Duration.DurationInput | undefined
    readonly requestTimeout?: Duration.DurationInput | undefined
    readonly refresh?: Partial<RefreshPolicy> | undefined
    readonly retry?: Partial<RetryPolicy> | undefined
  }
}

// -----------------------------------------------------------------------------
// defaults
// -----------------------------------------------------------------------------

/**
 * The token endpoint in the examples of EVC-net's "Get access token" page.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_TOKEN_URL = "https://accp.evc-net.com/oauth/v2/token"

/**
 * The API base in EVC-net's "Get access token" page.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_API_URL = "https://api.evc-net.com/v1"

/**
 * A token request either answers within 10 s or is treated as lost, so a
 * waiting caller is not held by a dead connection.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_TOKEN_TIMEOUT: Duration.Duration = Duration.seconds(10)

/**
 * One API request attempt gets 30 s, body included.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_REQUEST_TIMEOUT: Duration.Duration = Duration.seconds(30)

/**
 * The refresh policy's defaults:
 *
 * - `refreshBefore` 5 minutes (Azure's token cycler uses 2): five retries at
 *   the 30 s cap fit in it before a caller ever has to wait.
 * - `expirySkew` 10 s, like Go's x/oauth2 `defaultExpiryDelta`.
 * - `retryBase` 1 s doubling to `retryCap` 30 s, with ±20 % jitter, so many
 *   instances do not retry in lock-step and a dead endpoint sees at most two
 *   requests a minute from a cache.
 * - `coldAttempts` 3 with `coldRetryBase` 250 ms: a cold start rides out a
 *   brief 503 yet fails within about a second when the endpoint is down.
 * - `coldMaxDelay` 5 s: a caller never waits longer than that for one retry.
 * - `maxLifetime` 24 days, below the ~24.8-day timer limit.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_REFRESH_POLICY: EvcNetConfig.RefreshPolicy = {
  refreshBefore: Duration.minutes(5),
  expirySkew: Duration.seconds(10),
  retryBase: Duration.seconds(1),
  retryCap: Duration.seconds(30),
  coldAttempts: 3,
  coldRetryBase: Duration.millis(250),
  coldMaxDelay: Duration.seconds(5),
  maxLifetime: Duration.days(24)
}

/**
 * The request retry policy's defaults: 3 retries, 500 ms doubling to 10 s
 * with ±20 % jitter (so a brief 503 is ridden out within about 4 s), 1 s when
 * a 429 names no `Retry-After`, and at most 60 s of waiting for one.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_RETRY_POLICY: EvcNetConfig.RetryPolicy = {
  maxRetries: 3,
  base: Duration.millis(500),
  cap: Duration.seconds(10),
  retryAfterDefault: Duration.seconds(1),
  retryAfterCap: Duration.seconds(60)
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Validates options and fills in defaults.
 *
 * URLs must be absolute `https:` URLs without user info; `http:` is accepted
 * only for loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`), so the API key
 * never crosses a network in clear text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: EvcNetConfig.Options = {}
): Effect.Effect<EvcNetConfig.Service, ConfigError.ConfigError> =>
  Effect.all({
    tokenUrl: named("tokenUrl", validateUrl(String(options.tokenUrl ?? DEFAULT_TOKEN_URL))),
    apiUrl: named("apiUrl", Either.map(validateUrl(String(options.apiUrl ?? DEFAULT_API_URL)), stripTrailingSlash)),
    tokenTimeout: named("tokenTimeout", validatePositive(options.tokenTimeout ?? DEFAULT_TOKEN_TIMEOUT)),
    requestTimeout: named("requestTimeout", validatePositive(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT)),
    refresh: validateRefreshPolicy({ ...DEFAULT_REFRESH_POLICY, ...options.refresh }),
    retry: validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry })
  }).pipe(Effect.map(EvcNetConfig.of))

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: EvcNetConfig.Options): Layer.Layer<EvcNetConfig, ConfigError.ConfigError> =>
  Layer.effect(EvcNetConfig, make(options))

/**
 * The environment's settings; a variable that is unset is `undefined` here,
 * one that is set but invalid fails with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const config: Config.Config<EvcNetConfig.Options> = Config.all({
  tokenUrl: Config.option(
    Config.string("EVC_NET_TOKEN_URL").pipe(Config.mapOrFail(validated(validateUrl)))
  ),
  apiUrl: Config.option(
    Config.string("EVC_NET_API_URL").pipe(Config.mapOrFail(validated(validateUrl)))
  ),
  tokenTimeout: Config.option(
    Config.duration("EVC_NET_TOKEN_TIMEOUT").pipe(
      Config.mapOrFail(validated(validatePositive))
    )
  ),
  requestTimeout: Config.option(
    Config.duration("EVC_NET_REQUEST_TIMEOUT").pipe(
      Config.mapOrFail(validated(validatePositive))
    )
  )
}).pipe(
  // keep only the variables that are set, so code-level options fill the rest
  Config.map((settings) => Record.getSomes<string, unknown>(settings) as EvcNetConfig.Options)
)

/**
 * Like {@link layerConfig}, with code-level options (e.g. the refresh policy)
 * as the fallback for every variable that is unset.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfigWith = (
  options: EvcNetConfig.Options = {}
): Layer.Layer<EvcNetConfig, ConfigError.ConfigError> =>
  Layer.effect(EvcNetConfig, Effect.flatMap(config, (fromEnv) => make({ ...options, ...fromEnv })))

/**
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<EvcNetConfig, ConfigError.ConfigError> = layerConfigWith()

// -----------------------------------------------------------------------------
// validation (messages name the rule, never the value)
// -----------------------------------------------------------------------------

const LOOPBACK_HOSTS = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

function validateUrl(input: string): Either.Either<string, string> {
  if (!URL.canParse(input)) return Either.left("must be an absolute URL such as https://host/path")
  const url = new URL(input)
  if (url.username !== "" || url.password !== "") {
    return Either.left("must not contain user info (credentials come from EVC_NET_API_KEY)")
  }
  if (url.protocol === "https:") return Either.right(url.toString())
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.test(url.hostname)
      ? Either.right(url.toString())
      : Either.left("must use https: (plain http: is allowed only for localhost, 127.0.0.0/8 and [::1])")
  }
  return Either.left("must use https:")
}

function validatePositive(input: Duration.DurationInput): Either.Either<Duration.Duration, string> {
  const duration = Duration.decodeUnknown(input)
  if (duration._tag === "None" || !Duration.greaterThan(duration.value, Duration.zero)) {
    return Either.left("must be a positive duration, e.g. \"10 seconds\"")
  }
  return Either.right(duration.value)
}

function validateRefreshPolicy(
  policy: EvcNetConfig.RefreshPolicy
): Either.Either<EvcNetConfig.RefreshPolicy, ConfigError.ConfigError> {
  const durations = ["refreshBefore", "retryBase", "retryCap", "coldRetryBase", "coldMaxDelay", "maxLifetime"] as const
  for (const name of durations) {
    if (Either.isLeft(validatePositive(policy[name]))) {
      return Either.left(ConfigError.InvalidData(["refresh", name], "must be a positive duration"))
    }
  }
  if (!Duration.greaterThanOrEqualTo(policy.expirySkew, Duration.zero)) {
    return Either.left(ConfigError.InvalidData(["refresh", "expirySkew"], "must not be negative"))
  }
  if (!Number.isInteger(policy.coldAttempts) || policy.coldAttempts < 1) {
    return Either.left(ConfigError.InvalidData(["refresh", "coldAttempts"], "must be a whole number of at least 1"))
  }
  if (Duration.greaterThan(policy.maxLifetime, DEFAULT_REFRESH_POLICY.maxLifetime)) {
    return Either.left(ConfigError.InvalidData(["refresh", "maxLifetime"], "must be at most 24 days"))
  }
  return Either.right(policy)
}

function validateRetryPolicy(
  policy: EvcNetConfig.RetryPolicy
): Either.Either<EvcNetConfig.RetryPolicy, ConfigError.ConfigError> {
  for (const name of ["base", "cap", "retryAfterDefault", "retryAfterCap"] as const) {
    if (Either.isLeft(validatePositive(policy[name]))) {
      return Either.left(ConfigError.InvalidData(["retry", name], "must be a positive duration"))
    }
  }
  if (!Number.isInteger(policy.maxRetries) || policy.maxRetries < 0) {
    return Either.left(ConfigError.InvalidData(["retry", "maxRetries"], "must be a whole number of at least 0"))
  }
  return Either.right(policy)
}

const stripTrailingSlash = (url: string): string => url.replace(/\/+$/, "")
