/**
 * `evc-net`: EVC-net's "Get access token" page as one command, on the same
 * layers as the library (`Credentials`, `EvcNetConfig`, `TokenCache`,
 * `EvcNetClient`) and the embedded stand-in (`MockEvcNet`).
 *
 * The API key comes only from `EVC_NET_API_KEY` or, on a terminal, a hidden
 * prompt: never from a flag, where it would land in shell history.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Prompt from "@effect/cli/Prompt"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import type { EvcNetError } from "effect-evc-net"
import {
  Credentials,
  CredentialsModule,
  EvcNetClient,
  EvcNetConfig,
  EvcNetConfigModule,
  TokenCache
} from "effect-evc-net"
import { MockEvcNet, MockEvcNetModule } from "effect-evc-net-testing"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/** A failure the CLI reports as one line and exit code 1. */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

// -----------------------------------------------------------------------------
// shared options and the layers they build
// -----------------------------------------------------------------------------

const connection = {
  clientId: Options.text("client-id").pipe(
    Options.withDescription("client_id label (default: EVC_NET_CLIENT_ID, else \"1\")"),
    Options.optional
  ),
  tokenUrl: Options.text("token-url").pipe(
    Options.withDescription("token endpoint (default: EVC_NET_TOKEN_URL, else EVC-net's)"),
    Options.optional
  ),
  apiUrl: Options.text("api-url").pipe(
    Options.withDescription("API base URL (default: EVC_NET_API_URL, else EVC-net's)"),
    Options.optional
  )
}

type Connection = {
  readonly [K in keyof typeof connection]: Option.Option<string>
}

/** `EVC_NET_API_KEY`, or a hidden prompt on a terminal. */
const apiKey: Effect.Effect<Redacted.Redacted<string>, CliError, Prompt.Prompt.Environment> = Effect.gen(function*() {
  const fromEnv = yield* Config.option(Config.redacted("EVC_NET_API_KEY")).pipe(Effect.orElseSucceed(Option.none))
  if (Option.isSome(fromEnv) && Redacted.value(fromEnv.value).trim() !== "") return fromEnv.value
  if (process.stdin.isTTY !== true) {
    return yield* new CliError({
      message:
        "EVC_NET_API_KEY is not set. Export it (the key is never taken from a flag), or run on a terminal to be asked."
    })
  }
  return yield* Prompt.hidden({ message: "EVC-net API key" }).pipe(
    Effect.mapError(() => new CliError({ message: "no API key entered" }))
  )
})

/** Flags over environment over defaults, validated by the library's own constructors. */
const clientLayer = (flags: Connection) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const key = yield* apiKey
    const envClientId = yield* Config.option(Config.string("EVC_NET_CLIENT_ID")).pipe(
      Effect.orElseSucceed(Option.none)
    )
    const fromEnv = yield* EvcNetConfigModule.config
    const credentials = Credentials.layer({
      apiKey: key,
      clientId: Option.getOrElse(Option.orElse(flags.clientId, () => envClientId), () =>
        CredentialsModule.DEFAULT_CLIENT_ID)
    })
    const config = EvcNetConfig.layer({
      ...fromEnv,
      ...Option.match(flags.tokenUrl, { onNone: () => ({}), onSome: (tokenUrl) => ({ tokenUrl }) }),
      ...Option.match(flags.apiUrl, { onNone: () => ({}), onSome: (apiUrl) => ({ apiUrl }) })
    })
    return EvcNetClient.layer.pipe(
      Layer.provideMerge(TokenCache.layer),
      Layer.provideMerge(Layer.merge(credentials, config)),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  }))

// -----------------------------------------------------------------------------
// evc-net token
// -----------------------------------------------------------------------------

const token = Command.make(
  "token",
  {
    ...connection,
    json: Options.boolean("json").pipe(
      Options.withDescription("print { access_token, token_type, expires_at } as JSON")
    ),
    header: Options.boolean("header").pipe(
      Options.withDescription("print an Authorization header line, for curl -H")
    )
  },
  (flags) =>
    Effect.gen(function*() {
      const accessToken = yield* (yield* TokenCache).get
      const value = Redacted.value(accessToken.token) // printing it is what this command is for
      if (flags.json) {
        return yield* Console.log(JSON.stringify({
          access_token: value,
          token_type: accessToken.tokenType,
          expires_at: new Date(accessToken.expiresAt).toISOString()
        }))
      }
      yield* Console.log(flags.header ? `Authorization: Bearer ${value}` : value)
    }).pipe(Effect.provide(clientLayer(flags)))
).pipe(Command.withDescription("Get an access token (POST /oauth/v2/token with Basic credentials)"))

// -----------------------------------------------------------------------------
// evc-net request
// -----------------------------------------------------------------------------

const METHODS: ReadonlyArray<HttpMethod.HttpMethod> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

const request = Command.make(
  "request",
  {
    ...connection,
    method: Args.choice(METHODS.map((m) => [m, m] as const), { name: "METHOD" }),
    path: Args.text({ name: "PATH" }).pipe(Args.withDescription("path below the API base URL, e.g. /chargers")),
    data: Options.text("data").pipe(
      Options.withDescription("JSON body, or @file to read it from a file"),
      Options.optional
    ),
    query: Options.keyValueMap("query").pipe(
      Options.withDescription("query parameter key=value (repeatable)"),
      Options.optional
    )
  },
  (flags) =>
    Effect.gen(function*() {
      const evc = yield* EvcNetClient
      const body = yield* Option.match(flags.data, {
        onNone: () => Effect.succeed(Option.none<unknown>()),
        onSome: (data) => Effect.map(readData(data), Option.some)
      })
      let req = HttpClientRequest.make(flags.method)(flags.path)
      if (Option.isSome(flags.query)) {
        req = HttpClientRequest.setUrlParams(req, Object.fromEntries(HashMap.toEntries(flags.query.value)))
      }
      if (Option.isSome(body)) {
        req = yield* HttpClientRequest.bodyJson(req, body.value).pipe(
          Effect.mapError(() => new CliError({ message: "--data could not be encoded as JSON" }))
        )
      }
      const [elapsed, [status, text]] = yield* evc.httpClient.execute(req).pipe(
        Effect.flatMap((response) => Effect.map(response.text, (text) => [response.status, text] as const)),
        Effect.timed
      )
      const timing = `${status} in ${Math.round(Duration.toMillis(elapsed))} ms`
      if (status < 200 || status >= 300) {
        return yield* new CliError({
          message: `EVC-net answered ${status} to ${flags.method} ${flags.path}${excerpt(text)} (${timing})`
        })
      }
      yield* Console.error(timing)
      if (text !== "") yield* Console.log(pretty(text))
    }).pipe(Effect.provide(clientLayer(flags)))
).pipe(Command.withDescription("Make an authenticated call through EvcNetClient (401 refresh, 429 and retry policies)"))

const readData = (data: string): Effect.Effect<unknown, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const text = data.startsWith("@")
      ? yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(data.slice(1))).pipe(
        Effect.mapError(() => new CliError({ message: `--data: cannot read ${data.slice(1)}` }))
      )
      : data
    return yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => new CliError({ message: "--data is not valid JSON" })
    })
  })

const pretty = (text: string): string => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

const excerpt = (text: string): string => {
  const folded = text.replace(/\s+/g, " ").trim()
  return folded === "" ? "" : `: ${folded.length > 200 ? `${folded.slice(0, 200)}…` : folded}`
}

// -----------------------------------------------------------------------------
// evc-net mock
// -----------------------------------------------------------------------------

const mock = Command.make(
  "mock",
  {
    port: Options.integer("port").pipe(
      Options.withDescription("port on 127.0.0.1 (0: any free port)"),
      Options.withDefault(8787)
    ),
    lifetime: Options.integer("lifetime").pipe(
      Options.withDescription("expires_in of issued tokens, in seconds"),
      Options.withDefault(3600)
    )
  },
  ({ lifetime, port }) =>
    Effect.gen(function*() {
      const standIn = yield* MockEvcNet
      yield* Console.log([
        `EVC-net stand-in listening (${MockEvcNetModule.DEMO_NOTICE})`,
        "",
        `export EVC_NET_TOKEN_URL=${standIn.urls.tokenUrl}`,
        `export EVC_NET_API_URL=${standIn.urls.apiUrl}`,
        `export EVC_NET_API_KEY=${MockEvcNetModule.DEMO_API_KEY}   # the stand-in's demo key, not a secret`,
        "",
        "Try: evc-net request GET /demo/chargers     Stop with Ctrl-C."
      ].join("\n"))
      return yield* Effect.never
    }).pipe(Effect.provide(MockEvcNet.layerServer({ port, tokenLifetime: Duration.seconds(lifetime) })))
).pipe(Command.withDescription("Run the embedded EVC-net stand-in for local development"))

// -----------------------------------------------------------------------------
// the command
// -----------------------------------------------------------------------------

export const command = Command.make("evc-net").pipe(
  Command.withDescription("EVC-net access tokens and API calls from a shell (configuration: EVC_NET_* variables)"),
  Command.withSubcommands([token, request, mock])
)

/** What a failed run prints: one line, never a secret. */
export const describeError = (error: EvcNetError | CliError | { readonly message: string }): string => error.message
