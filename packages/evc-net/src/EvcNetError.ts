/**
 * The typed errors of effect-evc-net.
 *
 * Every error is a tagged class (`_tag` equals the class name), so programs
 * handle them with `Effect.catchTag` / `Effect.catchTags`. None of them ever
 * carries the API key, the Basic string or an access token: messages, fields,
 * causes, `String()` and `JSON.stringify` are all safe to log.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

// -----------------------------------------------------------------------------
// token endpoint
// -----------------------------------------------------------------------------

/**
 * The token endpoint rejected the credentials: HTTP 401 or 403, or HTTP 400
 * with the OAuth error `invalid_client` / `unauthorized_client`.
 *
 * Retrying does not help; the API key (or client id) has to change.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentialsError extends Data.TaggedError("InvalidCredentialsError")<{
  /** HTTP status of the token endpoint's answer. */
  readonly status: number
  /** The OAuth `error` code, when the body carried one (RFC 6749 §5.2). */
  readonly error?: string | undefined
  /** The OAuth `error_description`, when the body carried one. */
  readonly errorDescription?: string | undefined
}> {
  override get message(): string {
    const oauth = this.error === undefined ? "" : `, ${this.error}${describe(this.errorDescription)}`
    return `EVC-net rejected the client credentials (HTTP ${this.status}${oauth}). ` +
      "Check EVC_NET_API_KEY and EVC_NET_CLIENT_ID, or generate a new key under System Users."
  }
}

/**
 * No HTTP answer arrived: connection refused or reset, DNS or TLS failure, or
 * the request timed out. Carries the method and URL (never credentials) and the
 * underlying cause.
 *
 * Transient: the token cache and the client retry it with backoff.
 *
 * @since 0.1.0
 * @category errors
 */
export class NetworkError extends Data.TaggedError("NetworkError")<{
  readonly method: string
  /** The URL without query string or user info. */
  readonly url: string
  /** `Transport`: the connection failed; `Timeout`: no complete answer in time. */
  readonly reason: "Transport" | "Timeout"
  /** For `Timeout`: the timeout that elapsed. */
  readonly timeout?: Duration.Duration | undefined
  /** The transport's own error (never the request, which holds headers). */
  readonly cause?: unknown
}> {
  override get message(): string {
    const what = this.reason === "Timeout"
      ? `timed out after ${Duration.format(this.timeout ?? Duration.zero)}`
      : `failed: ${causeMessage(this.cause)}`
    return `${this.method} ${this.url} ${what}`
  }
}

/**
 * The token endpoint answered, but not with a usable token: an unexpected
 * status (other 4xx, 5xx, 3xx), a body that is not JSON, or JSON whose fields
 * are missing or invalid (`access_token`, `token_type`, `expires_in`).
 *
 * Transient when `status` is 429 or 5xx (see {@link isTransient}).
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenResponseError extends Data.TaggedError("TokenResponseError")<{
  readonly status: number
  /** What was wrong, for a person. */
  readonly description: string
  /** The OAuth `error` code, when the body carried one. */
  readonly error?: string | undefined
  /** A short, whitespace-folded excerpt of a non-JSON body (never of a token). */
  readonly bodyExcerpt?: string | undefined
  /** For 429 and 503: how long the server asked us to wait (`Retry-After`). */
  readonly retryAfter?: Duration.Duration | undefined
}> {
  override get message(): string {
    const excerpt = this.bodyExcerpt === undefined ? "" : ` Body: ${JSON.stringify(this.bodyExcerpt)}`
    return `EVC-net's token endpoint gave no usable token (HTTP ${this.status}): ${this.description}.${excerpt}`
  }
}

// -----------------------------------------------------------------------------
// API
// -----------------------------------------------------------------------------

/**
 * The API refused a freshly fetched access token (HTTP 401 after one token
 * refresh), or the token endpoint issued a token that had already expired.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenExpiredError extends Data.TaggedError("TokenExpiredError")<{
  /** HTTP status of the refusal (401), or 0 when no request was made. */
  readonly status: number
  /** The `error` parameter of `WWW-Authenticate`, e.g. `invalid_token`. */
  readonly error?: string | undefined
  readonly errorDescription?: string | undefined
  readonly description: string
}> {
  override get message(): string {
    const oauth = this.error === undefined ? "" : ` (${this.error}${describe(this.errorDescription)})`
    return `EVC-net access token rejected${oauth}: ${this.description}`
  }
}

/**
 * The API answered with a status outside 2xx (after the client's policies:
 * 401 refresh, 429 waits, transient retries).
 *
 * @since 0.1.0
 * @category errors
 */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly method: string
  /** The request path relative to the API base URL, without query string. */
  readonly path: string
  readonly status: number
  /** A short, whitespace-folded excerpt of the body. */
  readonly bodyExcerpt?: string | undefined
  /** For 429 and 503: how long the server asked us to wait (`Retry-After`). */
  readonly retryAfter?: Duration.Duration | undefined
}> {
  override get message(): string {
    const excerpt = this.bodyExcerpt === undefined || this.bodyExcerpt === ""
      ? ""
      : `: ${JSON.stringify(this.bodyExcerpt)}`
    return `EVC-net API answered ${this.method} ${this.path} with HTTP ${this.status}${excerpt}`
  }
}

/**
 * A 2xx API answer that does not match the schema the caller asked for.
 * `issues` names each wrong field by its path.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApiDecodeError extends Data.TaggedError("ApiDecodeError")<{
  readonly method: string
  readonly path: string
  readonly status: number
  /** One line per problem: `path.to.field: what is wrong`. */
  readonly issues: ReadonlyArray<string>
}> {
  override get message(): string {
    return `EVC-net API answer to ${this.method} ${this.path} did not match the expected schema: ${
      this.issues.join("; ")
    }`
  }
}

/**
 * The request could not be built: its JSON body could not be encoded, or its
 * path made no valid URL. Nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestEncodeError extends Data.TaggedError("RequestEncodeError")<{
  readonly method: string
  readonly path: string
  readonly description: string
}> {
  override get message(): string {
    return `EVC-net request ${this.method} ${this.path} could not be built: ${this.description}`
  }
}

// -----------------------------------------------------------------------------
// unions and guards
// -----------------------------------------------------------------------------

/**
 * The errors of one token request.
 *
 * @since 0.1.0
 * @category errors
 */
export type TokenRequestError = InvalidCredentialsError | NetworkError | TokenResponseError

/**
 * Every error effect-evc-net can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type EvcNetError =
  | InvalidCredentialsError
  | NetworkError
  | TokenResponseError
  | TokenExpiredError
  | ApiError
  | ApiDecodeError
  | RequestEncodeError

/**
 * Whether retrying the same request later may succeed: no answer at all
 * (`NetworkError`) or a 429 / 5xx answer.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransient = (error: EvcNetError): boolean => {
  switch (error._tag) {
    case "NetworkError":
      return true
    case "TokenResponseError":
    case "ApiError":
      return error.status === 429 || error.status >= 500
    default:
      return false
  }
}

const describe = (description: string | undefined): string => description === undefined ? "" : `: ${description}`

const causeMessage = (cause: unknown): string =>
  cause instanceof Error
    ? cause.cause instanceof Error ? `${cause.message} (${cause.cause.message})` : cause.message
    : "connection error"
