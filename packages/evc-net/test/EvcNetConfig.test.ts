import { describe, expect, it } from "@effect/vitest"
import { EvcNetConfig, EvcNetConfigModule } from "effect-evc-net"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const fromEnv = (env: Record<string, string>, options?: EvcNetConfig.Options) =>
  Effect.provide(
    EvcNetConfig,
    EvcNetConfigModule.layerConfigWith(options).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
    )
  )

const fromOptions = (options: EvcNetConfig.Options) => Effect.provide(EvcNetConfig, EvcNetConfig.layer(options))

describe("EvcNetConfig", () => {
  it.effect("defaults to the URLs of EVC-net's page", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv({})
      expect(config.tokenUrl).toBe("https://accp.evc-net.com/oauth/v2/token")
      expect(config.apiUrl).toBe("https://api.evc-net.com/v1")
      expect(Duration.toMillis(config.tokenTimeout)).toBe(10_000)
      expect(config.refresh).toEqual(EvcNetConfigModule.DEFAULT_REFRESH_POLICY)
    }))

  it.effect("reads the environment, which wins over code-level options", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv(
        {
          EVC_NET_TOKEN_URL: "http://127.0.0.1:8080/oauth/v2/token",
          EVC_NET_API_URL: "http://localhost:8080/v1/",
          EVC_NET_REQUEST_TIMEOUT: "5 seconds"
        },
        { tokenUrl: "https://ignored.example/token", requestTimeout: "1 minute", tokenTimeout: "3 seconds" }
      )
      expect(config.tokenUrl).toBe("http://127.0.0.1:8080/oauth/v2/token")
      expect(config.apiUrl).toBe("http://localhost:8080/v1")
      expect(Duration.toMillis(config.requestTimeout)).toBe(5_000)
      expect(Duration.toMillis(config.tokenTimeout)).toBe(3_000)
    }))

  it.effect.each(["http://localhost:1/t", "http://127.0.0.1/t", "http://127.8.9.10:99/t", "http://[::1]:8080/t"])(
    "accepts plain http on the loopback host %s",
    (tokenUrl) =>
      Effect.gen(function*() {
        const config = yield* fromOptions({ tokenUrl })
        expect(config.tokenUrl).toBe(new URL(tokenUrl).toString())
      })
  )

  it.effect.each([
    ["EVC_NET_TOKEN_URL", "http://accp.evc-net.com/oauth/v2/token", "must use https:"],
    ["EVC_NET_TOKEN_URL", "http://10.0.0.1/token", "must use https:"],
    ["EVC_NET_API_URL", "ftp://api.evc-net.com", "must use https:"],
    ["EVC_NET_API_URL", "api.evc-net.com/v1", "must be an absolute URL"],
    ["EVC_NET_TOKEN_URL", "https://user:hunter2@accp.evc-net.com/t", "must not contain user info"],
    ["EVC_NET_TOKEN_TIMEOUT", "0 seconds", "must be a positive duration"],
    ["EVC_NET_REQUEST_TIMEOUT", "soon", "Expected a duration"]
  ])("refuses %s=%s, naming the variable and not the value", ([name, value, rule]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fromEnv({ [name]: value }))
      expect(String(error)).toMatch(new RegExp(`at ${name}: `))
      expect(String(error)).toContain(rule)
      if (value.includes("hunter2")) expect(String(error)).not.toContain("hunter2")
    }))

  it.effect.each(
    [
      [{ requestTimeout: -1 }, "requestTimeout"],
      [{ tokenTimeout: 0 }, "tokenTimeout"],
      [{ refresh: { coldAttempts: 0 } }, "refresh.coldAttempts"],
      [{ refresh: { retryCap: Duration.zero } }, "refresh.retryCap"],
      [{ refresh: { maxLifetime: Duration.days(30) } }, "refresh.maxLifetime"]
    ] as const
  )("EvcNetConfig.layer refuses %j", ([options, setting]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fromOptions(options))
      expect(String(error)).toContain(setting)
    }))
})
