import * as Headers from "@effect/platform/Headers"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"

/** @internal Longest body excerpt an error carries. */
export const EXCERPT_LENGTH = 200

/** @internal A short, whitespace-folded excerpt with every secret replaced by `<redacted>`. */
export const excerpt = (body: string, secrets: ReadonlyArray<string>): string | undefined => {
  let text = body
  for (const secret of secrets) {
    if (secret !== "") text = text.split(secret).join("<redacted>")
  }
  text = text.replace(/\s+/g, " ").trim()
  if (text === "") return undefined
  return text.length > EXCERPT_LENGTH ? `${text.slice(0, EXCERPT_LENGTH)}…` : text
}

/**
 * @internal
 * Replaces the values of `access_token`, `refresh_token` and `id_token` in a
 * token endpoint's body (JSON, even cut off or malformed, or form-encoded):
 * an answer that is not a usable token may still carry one.
 */
export const scrubTokenFields = (body: string): string =>
  body
    .replace(/("(?:access|refresh|id)_token"\s*:\s*")[^"]*/gi, "$1<redacted>")
    .replace(/("(?:access|refresh|id)_token"\s*:\s*)(?!["\s])[^,}\s]+/gi, "$1<redacted>")
    .replace(/\b((?:access|refresh|id)_token=)[^&\s"]*/gi, "$1<redacted>")

/**
 * @internal
 * `Retry-After` as a duration: delta-seconds or an HTTP-date relative to `now`
 * (RFC 9110 §10.2.3). `undefined` when absent or unreadable.
 */
export const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

/** @internal The URL for errors and spans: no user info, no query, no fragment. */
export const displayUrl = (url: string | URL): string => {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}

/** @internal Parses JSON without throwing. */
export const parseJson = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/**
 * @internal
 * Runs `effect` with `authorization` among the redacted header names, whatever
 * the caller set them to, so spans and logs never show a credential.
 */
export const withAuthorizationRedacted = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // the platform's default already redacts it: then only a read, no scoped override
  FiberRef.getWith(Headers.currentRedactedNames, (names) =>
    redactsAuthorization(names)
      ? effect
      : Effect.locally(effect, Headers.currentRedactedNames, [...names, "authorization"]))

const redactsAuthorization = (names: ReadonlyArray<string | RegExp>): boolean =>
  names.some((name) => typeof name === "string" ? name.toLowerCase() === "authorization" : name.test("authorization"))
