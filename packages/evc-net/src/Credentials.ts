/**
 * The client credentials EVC-net issues: a `client_id` of your choosing and an
 * API key.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { named, validated } from "./internal/validation.js"

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The credentials used for the token request.
 *
 * `apiKey` is `Redacted`: it prints as `<redacted>` in logs, errors and
 * `JSON.stringify`. It is unwrapped in exactly one place, {@link basicAuthorization}.
 *
 * @since 0.1.0
 * @category service
 */
export class Credentials extends Context.Tag("effect-evc-net/Credentials")<Credentials, {
  /** Your own label for the calling system; EVC-net's page uses `1`. */
  readonly clientId: string
  /** The API key from EVC-net (email from Connectivity, or System Users). */
  readonly apiKey: Redacted.Redacted<string>
}>() {
  /**
   * Credentials from plain options. Fails with a `ConfigError` that names the
   * option (never its value) when the key is blank or the client id is invalid.
   */
  static layer(options: Credentials.Options): Layer.Layer<Credentials, ConfigError.ConfigError> {
    return layer(options)
  }

  /**
   * Credentials from `EVC_NET_API_KEY` (required) and `EVC_NET_CLIENT_ID`
   * (optional, default `1`), read through Effect's `Config`, so tests can
   * supply them with a `ConfigProvider`.
   */
  static get layerConfig(): Layer.Layer<Credentials, ConfigError.ConfigError> {
    return layerConfig
  }
}

/**
 * @since 0.1.0
 */
export declare namespace Credentials {
  /**
   * @since 0.1.0
   */
  export interface Options {
    /** The API key; a plain string is accepted and wrapped in `Redacted` at once. */
    readonly apiKey: Redacted.Redacted<string> | string
    /** Default `"1"`. Must not contain `:` (RFC 7617). */
    readonly clientId?: string | undefined
  }
}

// -----------------------------------------------------------------------------
// constants
// -----------------------------------------------------------------------------

/**
 * The `client_id` EVC-net's page uses. It is only a label: EVC-net identifies
 * the account by the API key.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CLIENT_ID = "1"

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Validates and normalises credentials.
 *
 * Surrounding whitespace is trimmed from both values: an EVC-net API key is a
 * UUID, so whitespace is never part of it, and a key pasted from an email or
 * read from a file often carries a trailing newline. Inner whitespace is kept.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Credentials.Options): Effect.Effect<Credentials["Type"], ConfigError.ConfigError> =>
  Effect.all({
    apiKey: named(
      "apiKey",
      validateApiKey(Redacted.isRedacted(options.apiKey) ? options.apiKey : Redacted.make(options.apiKey))
    ),
    clientId: named("clientId", validateClientId(options.clientId ?? DEFAULT_CLIENT_ID))
  }).pipe(Effect.map(Credentials.of))

/**
 * The value of the token request's `Authorization` header:
 * `Basic base64(utf8(client_id + ":" + api_key))`, byte-identical to the
 * page's `echo -n "1:$APIKEY" | base64` for every input, non-ASCII included.
 *
 * (`HttpClientRequest.basicAuth` uses `btoa`, which throws beyond Latin-1 and
 * encodes Latin-1 as single bytes, so it is not used.)
 *
 * @since 0.1.0
 * @category utils
 */
export const basicAuthorization = (credentials: Credentials["Type"]): Redacted.Redacted<string> =>
  Redacted.make(`Basic ${Encoding.encodeBase64(`${credentials.clientId}:${Redacted.value(credentials.apiKey)}`)}`)

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Credentials.Options): Layer.Layer<Credentials, ConfigError.ConfigError> =>
  Layer.effect(Credentials, make(options))

/**
 * @since 0.1.0
 * @category layers
 */
export const config: Config.Config<Credentials["Type"]> = Config.all({
  // validated directly on the named primitive, so the error's path is the variable's name
  apiKey: Config.string("EVC_NET_API_KEY").pipe(
    Config.mapOrFail(validated((value) => validateApiKey(Redacted.make(value))))
  ),
  clientId: Config.string("EVC_NET_CLIENT_ID").pipe(
    Config.mapOrFail(validated(validateClientId)),
    Config.withDefault(DEFAULT_CLIENT_ID)
  )
}).pipe(Config.map(Credentials.of))

/**
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Credentials, ConfigError.ConfigError> = Layer.effect(Credentials, config)

// -----------------------------------------------------------------------------
// validation (messages name the setting's rule, never its value)
// -----------------------------------------------------------------------------

function validateApiKey(apiKey: Redacted.Redacted<string>): Either.Either<Redacted.Redacted<string>, string> {
  const value = Redacted.value(apiKey)
  const trimmed = value.trim()
  if (trimmed === "") return Either.left("the EVC-net API key must not be blank")
  return Either.right(trimmed === value ? apiKey : Redacted.make(trimmed))
}

function validateClientId(clientId: string): Either.Either<string, string> {
  const trimmed = clientId.trim()
  if (trimmed === "") return Either.left("the client id must not be blank (EVC-net's default is \"1\")")
  if (trimmed.includes(":")) {
    return Either.left("the client id must not contain \":\" (Basic authentication cannot carry it, RFC 7617)")
  }

  if (/[\u0000-\u001f\u007f]/.test(trimmed)) return Either.left("the client id must not contain control characters")
  return Either.right(trimmed)
}
