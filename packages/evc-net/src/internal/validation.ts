import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"

/** @internal A validation's message (which names the rule, never the value) as a `ConfigError` naming the setting. */
export const named = <A>(name: string, result: Either.Either<A, string>): Either.Either<A, ConfigError.ConfigError> =>
  Either.mapLeft(result, (message) => ConfigError.InvalidData([name], message))

/** @internal `named` for a validation function, as `Config.mapOrFail` wants it. */
export const validateIn =
  <A, B>(name: string, validate: (a: A) => Either.Either<B, string>) =>
  (a: A): Either.Either<B, ConfigError.ConfigError> => named(name, validate(a))
