/**
 * One access token for everyone, refreshed in the background before it expires.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "./AccessToken.js"
import { Credentials } from "./Credentials.js"
import { EvcNetConfig } from "./EvcNetConfig.js"
import type { TokenRequestError } from "./EvcNetError.js"
import { isTransient, TokenExpiredError } from "./EvcNetError.js"
import * as TokenRequest from "./TokenRequest.js"

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * Caches the access token and refreshes it on a schedule.
 *
 * The life of one token, of lifetime `L`, issued at `t0`, expiring at `E`:
 *
 * ```
 * t0                      E − R                     E − S       E
 * |-------- fresh ---------|-------- stale ----------|- expired -|
 *   get() returns it        get() still returns it;    get() waits for
 *   at once                 a background fiber          a new token
 *                           refreshes it
 *
 * R = min(refreshBefore, L / 2)   refresh window   (default 5 minutes)
 * S = min(expirySkew, L / 10)     skew margin      (default 10 seconds)
 * ```
 *
 * @since 0.1.0
 * @category service
 */
export class TokenCache extends Context.Tag("effect-evc-net/TokenCache")<TokenCache, TokenCache.Service>() {
  /**
   * The token cache; building it does no network I/O (the first `get`
   * fetches). Its background fiber lives in the layer's scope.
   */
  static get layer(): Layer.Layer<TokenCache, never, Credentials | EvcNetConfig | HttpClient.HttpClient> {
    return layer
  }

  /**
   * Like {@link TokenCache.layer}, but fetches the first token while the
   * layer is built, so a service fails at start-up on bad credentials.
   */
  static get layerEager(): Layer.Layer<
    TokenCache,
    TokenCache.GetError,
    Credentials | EvcNetConfig | HttpClient.HttpClient
  > {
    return layerEager
  }

  /**
   * The token cache from explicit options instead of services:
   * `TokenCache.layerWith({ credentials: { apiKey }, config: { tokenUrl } })`.
   */
  static layerWith(
    options: TokenCache.LayerOptions
  ): Layer.Layer<TokenCache, ConfigError.ConfigError | TokenCache.GetError, HttpClient.HttpClient> {
    return layerWith(options)
  }
}

/**
 * @since 0.1.0
 */
export declare namespace TokenCache {
  /**
   * @since 0.1.0
   */
  export interface Service {
    /**
     * A token valid now and for at least the skew margin. Returns at once
     * while the current token is fresh or stale; otherwise waits for the one
     * shared token request (single flight).
     */
    readonly get: Effect.Effect<AccessToken, GetError>
    /**
     * Drops `token` if it is still the current one (compare-and-invalidate);
     * does nothing if a newer token already replaced it. Call it after the API
     * refused `token` with 401.
     */
    readonly invalidate: (token: AccessToken) => Effect.Effect<void>
    /**
     * Fetches a new token now (joining a fetch already in flight) while
     * callers keep getting the current one, and returns it.
     */
    readonly refresh: Effect.Effect<AccessToken, GetError>
    /** Where the cache is in the token's life, for diagnostics. No secret in it. */
    readonly state: Effect.Effect<State>
  }

  /**
   * @since 0.1.0
   */
  export type GetError = TokenRequestError | TokenExpiredError

  /**
   * @since 0.1.0
   */
  export type Phase = "empty" | "fresh" | "stale" | "expired"

  /**
   * @since 0.1.0
   */
  export interface State {
    readonly phase: Phase
    /** Whether a token request is in flight. */
    readonly fetching: boolean
    readonly issuedAt?: Date | undefined
    /** When the background refresh starts (`E − R`). */
    readonly refreshAt?: Date | undefined
    /** The last moment `get` hands the token out (`E − S`). */
    readonly usableUntil?: Date | undefined
    readonly expiresAt?: Date | undefined
    /** Token requests that failed since the last success. */
    readonly consecutiveFailures: number
    /** The last failure, as `_tag` and message. */
    readonly lastError?: { readonly _tag: string; readonly message: string } | undefined
  }

  /**
   * @since 0.1.0
   */
  export interface LayerOptions {
    readonly credentials: Credentials.Options
    readonly config?: EvcNetConfig.Options | undefined
    /** Fetch the first token while the layer is built. Default `false`. */
    readonly eager?: boolean | undefined
  }
}

// -----------------------------------------------------------------------------
// metrics
// -----------------------------------------------------------------------------

/**
 * Token requests, tagged `outcome`: `success` or the error's `_tag`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequests = Metric.counter("evc_net_token_requests_total", {
  description: "EVC-net token requests, by outcome",
  incremental: true
})

/**
 * Failed background refresh attempts (the current token was still served).
 *
 * @since 0.1.0
 * @category metrics
 */
export const refreshFailures = Metric.counter("evc_net_token_refresh_failures_total", {
  description: "Failed background refreshes of the EVC-net access token",
  incremental: true
})

/**
 * Seconds of validity left on the current token, sampled when a token is
 * stored, when the background refresh wakes, and on each `state` read.
 *
 * @since 0.1.0
 * @category metrics
 */
export const remainingLifetime = Metric.gauge("evc_net_token_remaining_lifetime_seconds", {
  description: "Seconds until the current EVC-net access token expires"
})

// -----------------------------------------------------------------------------
// bounds
// -----------------------------------------------------------------------------

/**
 * With the default policy, the most fetch rounds a permanently failing token
 * endpoint sees in one hour, however many callers ask: a failed round is
 * remembered for 1, 2, 4, 8, 16, then 30 s (`retryCap`), and callers in that
 * window get the same error at once. 5 windows cover the first 31 s and 119
 * more the rest of the hour: 125 rounds, one of them the first. Each round is
 * one request for `InvalidCredentialsError` and up to `coldAttempts` (3) for
 * transient failures.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_FETCHES_PER_HOUR = 126

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Builds the cache. Its fetches and its refresh fiber are forked into the
 * given scope: closing the scope interrupts them and every timer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  TokenCache.Service,
  never,
  Scope.Scope | Credentials | EvcNetConfig | HttpClient.HttpClient
> = Effect.gen(function*() {
  const policy = (yield* EvcNetConfig).refresh
  const request = yield* TokenRequest.make
  const clock = yield* Effect.clock
  const scope = yield* Effect.scope
  // The refresh fiber is started from the runtime captured here, not from the
  // fetch that stored the token: forking each loop from the previous one's
  // fetch would chain fibers without end (every FiberRef's stack grows by a
  // frame per refresh) and parent every refresh span to the first caller's.
  // Starting a new loop interrupts the previous one.
  const startRefresher = yield* FiberHandle.makeRuntime<never, never, void>()

  // Mutable state, read and written only in synchronous sections, so no two
  // fibers ever interleave inside an update.
  let current: Current | undefined
  let inflight: Deferred.Deferred<AccessToken, TokenRequestError> | undefined
  let consecutiveFailures = 0
  let lastError: TokenRequestError | undefined
  let coolingUntil = 0

  const fetchOnce = request.pipe(
    Effect.tapBoth({
      onFailure: (error) => Metric.increment(Metric.tagged(tokenRequests, "outcome", error._tag)),
      onSuccess: () => Metric.increment(Metric.tagged(tokenRequests, "outcome", "success"))
    })
  )

  // What a waiting caller rides on: a few quick retries of transient failures,
  // never a long wait (a Retry-After above coldMaxDelay ends it).
  const coldFetch = fetchOnce.pipe(
    Effect.retry({
      schedule: honourRetryAfter(
        backoff(policy.coldRetryBase, policy.coldMaxDelay).pipe(
          Schedule.intersect(Schedule.recurs(policy.coldAttempts - 1))
        )
      ),
      while: (error) =>
        isTransient(error) &&
        Duration.lessThanOrEqualTo(
          retryAfterOf(error),
          policy.coldMaxDelay
        )
    })
  )

  const settle =
    (deferred: Deferred.Deferred<AccessToken, TokenRequestError>, cool: boolean) =>
    (exit: Exit.Exit<AccessToken, TokenRequestError>) =>
      Effect.suspend(() => {
        if (inflight === deferred) inflight = undefined
        if (exit._tag === "Success") {
          const token = exit.value
          const stored = timeline(token, policy)
          current = stored
          consecutiveFailures = 0
          lastError = undefined
          coolingUntil = 0
          return Effect.zipRight(
            Effect.zipRight(
              Metric.set(remainingLifetime, token.remainingMillis(clock.unsafeCurrentTimeMillis()) / 1000),
              Effect.logDebug("EVC-net access token stored").pipe(
                Effect.annotateLogs({ "evc_net.token.lifetime": Duration.format(token.lifetime) })
              )
            ),
            Effect.zipRight(
              Effect.sync(() => startRefresher(refreshLoop(stored))),
              Deferred.done(deferred, exit)
            )
          )
        }
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        if (failure !== undefined) {
          consecutiveFailures++
          lastError = failure
          // only a failed cold fetch makes callers wait out a cooldown; a failed
          // background refresh must not stop the first caller after expiry from trying
          if (cool) {
            coolingUntil = clock.unsafeCurrentTimeMillis() +
              Duration.toMillis(cooldown(failure, consecutiveFailures, policy))
          }
        }
        return Deferred.done(deferred, exit)
      })

  // Single flight: the first caller starts the fetch, in the layer's scope so
  // that no caller's interruption or timeout cancels what everyone waits for;
  // everyone else joins it.
  const fetchShared = (fetch: Effect.Effect<AccessToken, TokenRequestError>, cool: boolean) =>
    Effect.suspend(() => {
      if (inflight !== undefined) return Deferred.await(inflight)
      const deferred = Deferred.unsafeMake<AccessToken, TokenRequestError>(FiberId.none)
      inflight = deferred
      return fetch.pipe(
        Effect.onExit(settle(deferred, cool)),
        Effect.forkIn(scope),
        Effect.zipRight(Deferred.await(deferred))
      )
    })

  const handOut = (token: AccessToken): Effect.Effect<AccessToken, TokenExpiredError> =>
    clock.unsafeCurrentTimeMillis() < usableUntil(token, policy)
      ? Effect.succeed(token)
      : Effect.fail(
        new TokenExpiredError({
          status: 0,
          description: "the token endpoint answered so late that the new token had already expired"
        })
      )

  const get: Effect.Effect<AccessToken, TokenCache.GetError> = Effect.suspend(() => {
    const now = clock.unsafeCurrentTimeMillis()
    if (current !== undefined && now < current.usableUntil) return Effect.succeed(current.token)
    if (inflight === undefined && lastError !== undefined && now < coolingUntil) return Effect.fail(lastError)
    return Effect.flatMap(fetchShared(coldFetch, true), handOut)
  })

  // After each successful fetch: sleep until the refresh window opens, then
  // fetch until it works or the token is no longer handed out. Callers keep
  // getting the current token meanwhile. A new token replaces this fiber.
  const refreshLoop = (of: Current): Effect.Effect<void> =>
    Effect.gen(function*() {
      yield* Effect.sleep(Math.max(0, of.refreshAt - clock.unsafeCurrentTimeMillis()))
      if (current !== of) return
      yield* Metric.set(remainingLifetime, of.token.remainingMillis(clock.unsafeCurrentTimeMillis()) / 1000)
      yield* fetchShared(fetchOnce, false).pipe(
        Effect.tapError((error) =>
          Effect.zipRight(
            Metric.increment(refreshFailures),
            Effect.logWarning("EVC-net token refresh failed; serving the current token and retrying").pipe(
              Effect.annotateLogs({ "evc_net.error": error._tag, "evc_net.error.message": error.message })
            )
          )
        ),
        // the schedule never ends by itself: the timeout below ends the loop
        Effect.retryOrElse(honourRetryAfter(backoff(policy.retryBase, policy.retryCap)), () => Effect.void),
        Effect.timeoutOption(Math.max(0, of.usableUntil - clock.unsafeCurrentTimeMillis())),
        Effect.flatMap((result) =>
          result._tag === "None"
            ? Effect.logWarning("EVC-net token expired before a refresh succeeded; the next request will fetch one")
            : Effect.void
        )
      )
    })

  const invalidate = (token: AccessToken) =>
    Effect.sync(() => {
      if (current !== undefined && sameToken(current.token, token)) current = undefined
    })

  const state = Effect.suspend(() => {
    const now = clock.unsafeCurrentTimeMillis()
    const snapshot: TokenCache.State = {
      phase: phaseOf(current, now),
      fetching: inflight !== undefined,
      issuedAt: dateOf(current?.token.issuedAt),
      refreshAt: dateOf(current?.refreshAt),
      usableUntil: dateOf(current?.usableUntil),
      expiresAt: dateOf(current?.token.expiresAt),
      consecutiveFailures,
      lastError: lastError === undefined ? undefined : { _tag: lastError._tag, message: lastError.message }
    }
    return current === undefined
      ? Effect.succeed(snapshot)
      : Effect.as(Metric.set(remainingLifetime, current.token.remainingMillis(now) / 1000), snapshot)
  })

  return TokenCache.of({
    get,
    invalidate,
    refresh: Effect.flatMap(fetchShared(coldFetch, true), handOut),
    state
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<TokenCache, never, Credentials | EvcNetConfig | HttpClient.HttpClient> = Layer
  .scoped(TokenCache, make)

/**
 * @since 0.1.0
 * @category layers
 */
export const layerEager: Layer.Layer<
  TokenCache,
  TokenCache.GetError,
  Credentials | EvcNetConfig | HttpClient.HttpClient
> = Layer.scoped(TokenCache, Effect.tap(make, (cache) => cache.get))

/**
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: TokenCache.LayerOptions
): Layer.Layer<TokenCache, ConfigError.ConfigError | TokenCache.GetError, HttpClient.HttpClient> =>
  // fresh: two caches built from options in one program must not be memoized into one
  Layer.fresh(options.eager === true ? layerEager : layer).pipe(
    Layer.provide(Layer.merge(Credentials.layer(options.credentials), EvcNetConfig.layer(options.config)))
  )

// -----------------------------------------------------------------------------
// timeline
// -----------------------------------------------------------------------------

/** A stored token with the two moments that govern it, computed once. */
interface Current {
  readonly token: AccessToken
  readonly refreshAt: number
  readonly usableUntil: number
}

/**
 * `E − S`: the skew margin is `expirySkew` (10 s), or a tenth of the lifetime
 * when that is smaller, so a 1-second token is still handed out for 0.9 s.
 */
const usableUntil = (token: AccessToken, policy: EvcNetConfig.RefreshPolicy): number =>
  token.expiresAt - Math.min(Duration.toMillis(policy.expirySkew), Duration.toMillis(token.lifetime) / 10)

/** `E − R`: the refresh window is `refreshBefore` (5 min), or half the lifetime when that is smaller. */
const refreshAt = (token: AccessToken, policy: EvcNetConfig.RefreshPolicy): number =>
  token.expiresAt - Math.min(Duration.toMillis(policy.refreshBefore), Duration.toMillis(token.lifetime) / 2)

const timeline = (token: AccessToken, policy: EvcNetConfig.RefreshPolicy): Current => ({
  token,
  refreshAt: refreshAt(token, policy),
  usableUntil: usableUntil(token, policy)
})

const phaseOf = (current: Current | undefined, now: number): TokenCache.Phase =>
  current === undefined
    ? "empty"
    : now < current.refreshAt
    ? "fresh"
    : now < current.usableUntil
    ? "stale"
    : "expired"

const dateOf = (millis: number | undefined): Date | undefined => millis === undefined ? undefined : new Date(millis)

const sameToken = (a: AccessToken, b: AccessToken): boolean =>
  a === b || Redacted.value(a.token) === Redacted.value(b.token)

// -----------------------------------------------------------------------------
// retry policy
// -----------------------------------------------------------------------------

/** Exponential from `base`, capped at `cap`, with ±20 % jitter. */
const backoff = (base: Duration.Duration, cap: Duration.Duration): Schedule.Schedule<unknown> =>
  Schedule.exponential(base).pipe(Schedule.either(Schedule.spaced(cap)), Schedule.jittered)

/** Waits at least the server's `Retry-After` (429, 503) before the next attempt. */
const honourRetryAfter = (schedule: Schedule.Schedule<unknown>) =>
  Schedule.identity<TokenRequestError>().pipe(
    Schedule.intersect(schedule),
    Schedule.modifyDelay(([error], delay) => Duration.max(delay, retryAfterOf(error)))
  )

const retryAfterOf = (error: TokenRequestError): Duration.Duration =>
  error._tag === "TokenResponseError" && error.retryAfter !== undefined ? error.retryAfter : Duration.zero

/**
 * How long a failed fetch is remembered: callers that need a token in that
 * time get the same error at once instead of a new request. Doubles from
 * `retryBase` to `retryCap` with each consecutive failure, and is at least
 * the server's `Retry-After`.
 */
const cooldown = (
  error: TokenRequestError,
  failures: number,
  policy: EvcNetConfig.RefreshPolicy
): Duration.Duration =>
  Duration.max(
    Duration.min(Duration.times(policy.retryBase, 2 ** Math.min(failures - 1, 30)), policy.retryCap),
    retryAfterOf(error)
  )
