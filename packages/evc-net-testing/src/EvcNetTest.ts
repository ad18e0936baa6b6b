/**
 * Test layers: your program against the embedded stand-in, in process, with
 * no socket, so `TestClock` drives token expiry, refreshes and retries.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Credentials, EvcNetClient, EvcNetConfig, TokenCache } from "effect-evc-net"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { MockEvcNet } from "./MockEvcNet.js"

/**
 * @since 0.1.0
 */
export declare namespace EvcNetTest {
  /**
   * @since 0.1.0
   */
  export interface Options extends MockEvcNet.Options {
    /** Client-side configuration (timeouts, refresh and retry policies); the URLs come from the stand-in. */
    readonly config?: Omit<EvcNetConfig.Options, "tokenUrl" | "apiUrl"> | undefined
    /** The credentials the client logs in with. Default: the stand-in's first account. */
    readonly credentials?: Credentials.Options | undefined
  }

  /**
   * Everything `EvcNetTest.layer` provides.
   *
   * @since 0.1.0
   */
  export type Services = MockEvcNet | EvcNetClient | TokenCache | Credentials | EvcNetConfig | HttpClient.HttpClient
}

/**
 * An `HttpClient` whose every request is answered by `mock` in the calling
 * fiber: no socket, and the caller's `Clock` (so `TestClock`) rules.
 *
 * @since 0.1.0
 * @category constructors
 */
export const httpClient = (mock: MockEvcNet.Service): HttpClient.HttpClient =>
  HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = request.body._tag === "Uint8Array" ? new Uint8Array(request.body.body) : undefined
      const serverRequest = HttpServerRequest.fromWeb(
        new Request(url, { method: request.method, headers: request.headers, ...(body === undefined ? {} : { body }) })
      )
      const outcome = yield* mock.handle(serverRequest)
      if (outcome._tag === "Drop") {
        return yield* Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: new Error("socket hang up (the stand-in dropped the connection)")
          })
        )
      }
      return HttpClientResponse.fromWeb(request, HttpServerResponse.toWeb(outcome.response))
    })
  )

/**
 * The stand-in and everything wired to it, in one layer: `MockEvcNet` (for
 * its controls and counters), `EvcNetClient`, `TokenCache`, matching
 * `Credentials` and `EvcNetConfig`, and the in-process `HttpClient`.
 *
 * ```ts
 * it.effect("lists chargers", () =>
 *   myProgram.pipe(Effect.provide(EvcNetTest.layer())))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: EvcNetTest.Options = {}): Layer.Layer<EvcNetTest.Services, ConfigError.ConfigError> => {
  const wiring = Layer.unwrapEffect(Effect.map(MockEvcNet, (mock) =>
    Layer.mergeAll(
      Credentials.layer(
        options.credentials ?? { apiKey: mock.accounts[0].apiKey, clientId: mock.accounts[0].clientId }
      ),
      EvcNetConfig.layer({ ...options.config, tokenUrl: mock.urls.tokenUrl, apiUrl: mock.urls.apiUrl }),
      Layer.succeed(HttpClient.HttpClient, httpClient(mock))
    )))
  return EvcNetClient.layer.pipe(
    Layer.provideMerge(Layer.fresh(TokenCache.layer)),
    Layer.provideMerge(wiring),
    Layer.provideMerge(MockEvcNet.layer(options))
  )
}
