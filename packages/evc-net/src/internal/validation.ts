import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"

/** @internal A validation's message (which names the rule, never the value) as a `ConfigError` naming the setting. */
export const named = <A>(name: string, result: Either.Either<A, string>): Either.Either<A, ConfigError.ConfigError> =>
  Either.mapLeft(result, (message) => ConfigError.InvalidData([name], message))

/**
 * @internal A validation function as `Config.mapOrFail` wants it. The error's
 * path is left empty: the `Config` it runs in adds the variable's name.
 */
export const validated =
  <A, B>(validate: (a: A) => Either.Either<B, string>) => (a: A): Either.Either<B, ConfigError.ConfigError> =>
    Either.mapLeft(validate(a), (message) => ConfigError.InvalidData([], message))
