/**
 * An access token as the token cache hands it out.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"

/**
 * An EVC-net access token with the times that govern its life.
 *
 * `issuedAt` is the `Clock` time at which the token request was *sent*, so
 * `expiresAt` is never later than the server's own expiry. Both are epoch
 * milliseconds from Effect's `Clock`, so `TestClock` controls them.
 *
 * @since 0.1.0
 * @category models
 */
export class AccessToken extends Data.Class<{
  /** The bearer token. Unwrap only to write an `Authorization` header. */
  readonly token: Redacted.Redacted<string>
  readonly tokenType: "Bearer"
  /** Epoch milliseconds at which the token request was sent. */
  readonly issuedAt: number
  /** Epoch milliseconds at which the token expires (`issuedAt + lifetime`). */
  readonly expiresAt: number
  /** `expires_in` as the server sent it, clamped to the policy's `maxLifetime`. */
  readonly lifetime: Duration.Duration
}> {
  /** Milliseconds of validity left at `now` (negative once expired). */
  remainingMillis(now: number): number {
    return this.expiresAt - now
  }
}
