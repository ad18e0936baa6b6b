import { describe, expect, it } from "@effect/vitest"
import { Credentials, CredentialsModule } from "effect-evc-net"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { basicOf, expectNoSecret } from "./fixtures/secrets.js"

const API_KEY = "f222f495-c46f-4829-24ef-442f55888f3e"

const fromEnv = (env: Record<string, string>) =>
  Effect.provide(
    Credentials,
    Credentials.layerConfig.pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
    )
  )

const fromOptions = (options: Credentials.Options) => Effect.provide(Credentials, Credentials.layer(options))

describe("Credentials", () => {
  it.effect("reads EVC_NET_API_KEY and defaults the client id to \"1\"", () =>
    Effect.gen(function*() {
      const credentials = yield* fromEnv({ EVC_NET_API_KEY: API_KEY })
      expect(credentials.clientId).toBe("1")
      expect(Redacted.value(credentials.apiKey)).toBe(API_KEY)
    }))

  it.effect("reads EVC_NET_CLIENT_ID", () =>
    Effect.gen(function*() {
      const credentials = yield* fromEnv({ EVC_NET_API_KEY: API_KEY, EVC_NET_CLIENT_ID: "billing-system" })
      expect(credentials.clientId).toBe("billing-system")
    }))

  it.effect("trims surrounding whitespace from the key and the client id", () =>
    Effect.gen(function*() {
      const credentials = yield* fromOptions({ apiKey: `  ${API_KEY}\n`, clientId: " 7 " })
      expect(Redacted.value(credentials.apiKey)).toBe(API_KEY)
      expect(credentials.clientId).toBe("7")
    }))

  it.effect.each<[string, Record<string, string>, string, string]>([
    ["a missing key", {}, "EVC_NET_API_KEY", "Expected EVC_NET_API_KEY to exist"],
    ["a blank key", { EVC_NET_API_KEY: "   " }, "EVC_NET_API_KEY", "must not be blank"],
    [
      "a client id with a colon",
      { EVC_NET_API_KEY: API_KEY, EVC_NET_CLIENT_ID: "a:b" },
      "EVC_NET_CLIENT_ID",
      "must not contain \":\""
    ],
    [
      "a blank client id",
      { EVC_NET_API_KEY: API_KEY, EVC_NET_CLIENT_ID: " " },
      "EVC_NET_CLIENT_ID",
      "must not be blank"
    ]
  ])(
    "%s fails with a ConfigError naming the setting, not its value",
    ([, env, setting, rule]) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(fromEnv(env))
        expect(error._op).toMatch(/MissingData|InvalidData/)
        expect(String(error)).toMatch(new RegExp(`at ${setting}: `))
        expect(String(error)).toContain(rule)
        expectNoSecret(error, [API_KEY])
      })
  )

  it.effect("Credentials.layer names the option in its errors", () =>
    Effect.gen(function*() {
      const blank = yield* Effect.flip(fromOptions({ apiKey: "" }))
      expect(String(blank)).toContain("apiKey")
      const colon = yield* Effect.flip(fromOptions({ apiKey: API_KEY, clientId: "x:y" }))
      expect(String(colon)).toContain("clientId")
      expectNoSecret(colon, [API_KEY])
    }))

  it.effect("never shows the key or the Basic string when printed", () =>
    Effect.gen(function*() {
      const credentials = yield* fromOptions({ apiKey: API_KEY })
      expectNoSecret(credentials, [API_KEY, basicOf("1", API_KEY)])
      expectNoSecret(CredentialsModule.basicAuthorization(credentials), [API_KEY, basicOf("1", API_KEY)])
    }))
})
