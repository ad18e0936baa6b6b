/**
 * The token request of EVC-net's "Get access token" page, exactly:
 *
 * ```
 * POST {tokenUrl}
 * accept: application/json
 * content-type: application/x-www-form-urlencoded
 * authorization: Basic base64(utf8("client_id:api_key"))
 *
 * grant_type=client_credentials
 * ```
 *
 * One request, no caching and no retries: that is `TokenCache`'s job.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { AccessToken } from "./AccessToken.js"
import { basicAuthorization, Credentials } from "./Credentials.js"
import { EvcNetConfig } from "./EvcNetConfig.js"
import type { TokenRequestError } from "./EvcNetError.js"
import { InvalidCredentialsError, NetworkError, TokenResponseError } from "./EvcNetError.js"
import {
  displayUrl,
  excerpt,
  parseJson,
  parseRetryAfter,
  scrubTokenFields,
  withAuthorizationRedacted
} from "./internal/http.js"

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Builds the token request once (the Basic string is computed here, not per
 * request) and returns the effect that performs it.
 *
 * The request runs in the span `EvcNet.fetchToken` with the HTTP status as an
 * attribute, under the configured `tokenTimeout` (a timeout is a
 * `NetworkError`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  Effect.Effect<AccessToken, TokenRequestError>,
  never,
  Credentials | EvcNetConfig | HttpClient.HttpClient
> = Effect.gen(function*() {
  const credentials = yield* Credentials
  const config = yield* EvcNetConfig
  const client = yield* HttpClient.HttpClient
  const authorization = basicAuthorization(credentials)
  const secrets = [Redacted.value(authorization).slice("Basic ".length), Redacted.value(credentials.apiKey)]
  const url = displayUrl(config.tokenUrl)
  const maxLifetimeSeconds = Duration.toSeconds(config.refresh.maxLifetime)

  const request = HttpClientRequest.post(config.tokenUrl).pipe(
    HttpClientRequest.acceptJson,
    HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" }),
    HttpClientRequest.setHeader("authorization", Redacted.value(authorization))
  )

  const toNetworkError = (error: HttpClientError.HttpClientError) =>
    new NetworkError({ method: "POST", url, reason: "Transport", cause: error.cause })

  return Effect.gen(function*() {
    const issuedAt = yield* Clock.currentTimeMillis
    const response = yield* Effect.mapError(client.execute(request), toNetworkError)
    yield* Effect.annotateCurrentSpan("http.response.status_code", response.status)
    const body = yield* Effect.mapError(response.text, toNetworkError)
    const now = yield* Clock.currentTimeMillis
    return yield* interpret({
      status: response.status,
      retryAfter: parseRetryAfter(response.headers["retry-after"], now),
      body,
      issuedAt,
      maxLifetimeSeconds,
      secrets
    })
  }).pipe(
    Effect.timeoutFail({
      duration: config.tokenTimeout,
      onTimeout: () => new NetworkError({ method: "POST", url, reason: "Timeout", timeout: config.tokenTimeout })
    }),
    withAuthorizationRedacted,
    Effect.withSpan("EvcNet.fetchToken", { kind: "client", attributes: { "url.full": url } })
  )
})

/**
 * Performs one token request with the services in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fetch: Effect.Effect<
  AccessToken,
  TokenRequestError,
  Credentials | EvcNetConfig | HttpClient.HttpClient
> = Effect.flatten(make)

// -----------------------------------------------------------------------------
// response schema (RFC 6749 §5.1)
// -----------------------------------------------------------------------------

/**
 * The successful token response. Unknown fields are ignored. Messages never
 * echo `access_token`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct({
  access_token: Schema.String.pipe(Schema.minLength(1)).annotations({
    message: () => ({ message: "must be a non-empty string", override: true })
  }),
  token_type: Schema.String.pipe(Schema.filter((type) => type.toLowerCase() === "bearer")).annotations({
    message: () => ({ message: "must be \"Bearer\"", override: true })
  }),
  expires_in: Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
    Schema.filter((seconds) => Number.isFinite(seconds) && seconds > 0)
  ).annotations({
    message: () => ({ message: "must be a positive number of seconds", override: true })
  })
})

/**
 * An OAuth error body (RFC 6749 §5.2), as far as it is present.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OAuthErrorBody = Schema.Struct({
  error: Schema.optional(Schema.String),
  error_description: Schema.optional(Schema.String)
})

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const decodeTokenResponse = Schema.decodeUnknownEither(TokenResponse, { errors: "all" })
const decodeOAuthError = Schema.decodeUnknownEither(OAuthErrorBody)

/** HTTP 400 with these OAuth errors means the credentials are wrong. */
const CREDENTIAL_ERRORS = new Set(["invalid_client", "unauthorized_client"])

interface Answer {
  readonly status: number
  readonly retryAfter: Duration.Duration | undefined
  readonly body: string
  readonly issuedAt: number
  readonly maxLifetimeSeconds: number
  readonly secrets: ReadonlyArray<string>
}

const interpret = (answer: Answer): Effect.Effect<AccessToken, InvalidCredentialsError | TokenResponseError> => {
  const { body, status } = answer
  const json = parseJson(body)
  if (status >= 200 && status < 300) {
    if (!json.ok) {
      return Effect.fail(
        new TokenResponseError({
          status,
          description: "the body is not JSON",
          bodyExcerpt: excerpt(scrubTokenFields(body), answer.secrets)
        })
      )
    }
    return Either.match(decodeTokenResponse(json.value), {
      onLeft: (error) =>
        Effect.fail(
          new TokenResponseError({
            status,
            description: ParseResult.ArrayFormatter.formatErrorSync(error)
              .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
              .join("; ")
          })
        ),
      onRight: (decoded) => {
        const lifetimeSeconds = Math.min(decoded.expires_in, answer.maxLifetimeSeconds)
        const lifetime = Duration.millis(Math.round(lifetimeSeconds * 1000))
        return Effect.succeed(
          new AccessToken({
            token: Redacted.make(decoded.access_token),
            tokenType: "Bearer",
            issuedAt: answer.issuedAt,
            expiresAt: answer.issuedAt + Duration.toMillis(lifetime),
            lifetime
          })
        )
      }
    })
  }
  const oauth = json.ok ? Either.getOrUndefined(decodeOAuthError(json.value)) : undefined
  if (status === 401 || status === 403 || (status === 400 && CREDENTIAL_ERRORS.has(oauth?.error ?? ""))) {
    return Effect.fail(
      new InvalidCredentialsError({ status, error: oauth?.error, errorDescription: oauth?.error_description })
    )
  }
  return Effect.fail(
    new TokenResponseError({
      status,
      description: status >= 300 && status < 400
        ? "the token endpoint redirected; redirects are not followed with credentials"
        : `unexpected status${oauth?.error === undefined ? "" : ` (${oauth.error})`}`,
      error: oauth?.error,
      bodyExcerpt: excerpt(scrubTokenFields(body), answer.secrets),
      retryAfter: answer.retryAfter
    })
  )
}
