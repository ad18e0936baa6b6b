/**
 * Where the examples send their requests: the embedded EVC-net stand-in on a
 * loopback port, or EVC-net itself when `EVC_NET_API_KEY` is set (then every
 * setting comes from the environment, see the README's configuration table).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import { Credentials, EvcNetClient, EvcNetConfig, TokenCache } from "effect-evc-net"
import { MockEvcNet } from "effect-evc-net-testing"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/** `true` when `EVC_NET_API_KEY` is set: the examples then talk to EVC-net. */
export const live: boolean = (process.env.EVC_NET_API_KEY ?? "").trim() !== ""

/**
 * A path to call on EVC-net in live mode. Our reference documents only the
 * token endpoint, not EVC-net's resources, so the examples do not guess one:
 * set `EVC_NET_EXAMPLE_PATH` (e.g. `/your-endpoint`) to have them call it.
 */
export const examplePath: Effect.Effect<Option.Option<string>> = live
  ? Config.option(Config.nonEmptyString("EVC_NET_EXAMPLE_PATH")).pipe(Effect.orElseSucceed(Option.none))
  : Effect.succeed(Option.some("/demo/chargers"))

/** What the program is talking to, for its first line of output. */
export const target = (config: EvcNetConfig.Service): string =>
  live
    ? `EVC-net at ${config.apiUrl} (token endpoint ${config.tokenUrl})`
    : `the embedded EVC-net stand-in at ${config.apiUrl} (no network, no real key)`

/** What {@link layer} provides. */
export type Services = EvcNetClient | TokenCache | Credentials | EvcNetConfig | HttpClient.HttpClient

/** Client-side settings the examples may tune (timeouts, refresh and retry policies). */
export type Tuning = Omit<EvcNetConfig.Options, "tokenUrl" | "apiUrl">

/**
 * `EvcNetClient` and the services under it (`TokenCache`, `EvcNetConfig`,
 * `Credentials`), over a real HTTP client. In stand-in mode `MockEvcNet` is
 * provided too, for its controls and counters; in live mode it is absent.
 */
export const layer = (
  options: { readonly standIn?: MockEvcNet.ServerOptions; readonly tuning?: Tuning } = {}
): Layer.Layer<Services, ConfigError.ConfigError | HttpServerError.ServeError> => {
  const clientOver = <E, R>(settings: Layer.Layer<Credentials | EvcNetConfig, E, R>) =>
    EvcNetClient.layer.pipe(
      Layer.provideMerge(TokenCache.layer),
      Layer.provideMerge(settings),
      Layer.provideMerge(NodeHttpClient.layerUndici)
    )
  if (live) {
    return clientOver(Layer.merge(Credentials.layerConfig, EvcNetConfig.layerConfigWith(options.tuning ?? {})))
  }
  const settings = Layer.unwrapEffect(Effect.map(MockEvcNet, (mock) =>
    Layer.merge(
      Credentials.layer({ apiKey: mock.accounts[0].apiKey }),
      EvcNetConfig.layer({ ...options.tuning, tokenUrl: mock.urls.tokenUrl, apiUrl: mock.urls.apiUrl })
    )))
  return clientOver(settings).pipe(Layer.provideMerge(MockEvcNet.layerServer(options.standIn)))
}

/** The stand-in's controls, or `None` in live mode. */
export const standIn: Effect.Effect<Option.Option<MockEvcNet.Service>> = Effect.serviceOption(MockEvcNet)

/** What building the examples' layers can fail with. */
export type Error = ConfigError.ConfigError | HttpServerError.ServeError | TokenCache.GetError

/**
 * Runs an example: provides `layer`, prints a failure as one line a person
 * can act on (typed errors carry such messages), exits 1 on failure.
 */
export const runWith = <A, E extends { readonly message: string }, ROut, E2 extends { readonly message: string }>(
  name: string,
  program: Effect.Effect<A, E, ROut>,
  layer: Layer.Layer<ROut, E2>
): void =>
  program.pipe(
    Effect.provide(layer),
    Effect.tapErrorCause((cause) =>
      Console.error(
        `\n${name} stopped: ${
          Option.match(Cause.failureOption(cause), {
            onSome: (error) => ConfigError.isConfigError(error) ? String(error) : error.message,
            onNone: () => Cause.pretty(cause) // a bug, not an EVC-net error: show all of it
          })
        }`
      )
    ),
    NodeRuntime.runMain({ disableErrorReporting: true })
  )

/** {@link runWith} over {@link layer}: the stand-in, or EVC-net when `EVC_NET_API_KEY` is set. */
export const run = <A, E extends { readonly message: string }>(
  name: string,
  program: Effect.Effect<A, E, Services>,
  options?: Parameters<typeof layer>[0]
): void => runWith(name, program, layer(options))
