/**
 * The clients under test, each behind the same small interface: make an
 * instance against the stand-in, send one authenticated GET, close.
 *
 * Every contender reads the JSON answer, so all do the same work per request.
 */
import { OAuth2Client, OAuth2Fetch } from "@badgateway/oauth2-client"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { EvcNetConfig } from "effect-evc-net"
import { EvcNetClient } from "effect-evc-net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as oidc from "openid-client"
import type { Ready } from "./protocol.js"

/** The API path every contender calls: a small JSON answer. */
export const PATH = "/demo/whoami"
const CLIENT_ID = "1"

export interface Instance {
  /** One GET: the HTTP status the caller saw, or 0 for a failure without one. */
  readonly request: () => Promise<number>
  readonly close: () => Promise<void>
}

export interface Contender {
  readonly name: string
  /** A floor: a static token, no refresh. Not run where tokens expire. */
  readonly floor: boolean
  readonly make: (server: Ready) => Promise<Instance>
}

const basic = (apiKey: string) => `Basic ${Buffer.from(`${CLIENT_ID}:${apiKey}`, "utf8").toString("base64")}`

/** The page's steps by hand: POST the form with Basic credentials, read `access_token`. */
const fetchToken = async (server: Ready): Promise<{ token: string; expiresIn: number }> => {
  const response = await fetch(server.urls.tokenUrl, {
    method: "POST",
    headers: {
      accept: "application/json",
      "content-type": "application/x-www-form-urlencoded",
      authorization: basic(server.apiKey)
    },
    body: "grant_type=client_credentials"
  })
  const body = await response.json() as { access_token: string; expires_in: number }
  return { token: body.access_token, expiresIn: body.expires_in }
}

const getWithFetch = async (url: string, token: string): Promise<number> => {
  const response = await fetch(url, { headers: { accept: "application/json", authorization: `Bearer ${token}` } })
  await response.json()
  return response.status
}

const settle = (promise: Promise<number>): Promise<number> => promise.catch(() => 0)

/** raw `fetch` with a token fetched once by hand: the floor. */
const rawFetch: Contender = {
  name: "raw fetch, static token (floor)",
  floor: true,
  make: async (server) => {
    const { token } = await fetchToken(server)
    const url = server.urls.apiUrl + PATH
    return { request: () => settle(getWithFetch(url, token)), close: async () => {} }
  }
}

/**
 * `@effect/platform` HttpClient with a static bearer header: our substrate's floor.
 * `tracing: false` runs it under `Effect.withTracerEnabled(false)`.
 */
const platform = (name: string, tracing: boolean): Contender => ({
  name,
  floor: true,
  make: async (server) => {
    const { token } = await fetchToken(server)
    const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
    const url = server.urls.apiUrl + PATH
    const get = Effect.flatMap(HttpClient.HttpClient, (client) =>
      client.execute(
        HttpClientRequest.get(url).pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.acceptJson
        )
      ).pipe(Effect.flatMap((response) => Effect.as(response.json, response.status)), Effect.scoped)).pipe(
        Effect.orElseSucceed(() => 0),
        Effect.withTracerEnabled(tracing)
      )
    await runtime.runPromise(Effect.void)
    return { request: () => runtime.runPromise(get), close: () => runtime.dispose() }
  }
})

const platformStatic = platform("@effect/platform HttpClient, static token (floor)", true)
/** The floor without its `http.client` span, to compare with ours without spans. */
const platformUntraced = platform("@effect/platform floor, tracing off", false)

/** effect-evc-net's `EvcNetClient`, with default policies unless `config` says otherwise. */
const evcNet = (name: string, config: EvcNetConfig.Options = {}, tracing = true): Contender => ({
  name,
  floor: false,
  make: async (server) => {
    const runtime = ManagedRuntime.make(
      EvcNetClient.layerWith({
        credentials: { apiKey: server.apiKey, clientId: CLIENT_ID },
        config: { ...config, tokenUrl: server.urls.tokenUrl, apiUrl: server.urls.apiUrl }
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
    const get = Effect.flatMap(EvcNetClient, (evc) => evc.get(PATH)).pipe(
      Effect.as(200),
      Effect.catchAll((error) => Effect.succeed("status" in error ? error.status : 0)),
      Effect.withTracerEnabled(tracing)
    )
    await runtime.runPromise(Effect.void)
    return { request: () => runtime.runPromise(get), close: () => runtime.dispose() }
  }
})

const ours = evcNet("effect-evc-net EvcNetClient (ours)")

/** Ours without the per-attempt timeout, to show what the timeout costs. */
const oursNoTimeout = evcNet("ours, requestTimeout: Duration.infinity", { requestTimeout: Duration.infinity })

/** Ours without spans (`Effect.withTracerEnabled(false)`), to set beside the floor without its span. */
const oursUntraced = evcNet("ours, tracing off", {}, false)

/** `@badgateway/oauth2-client`'s `OAuth2Fetch` with the client-credentials grant. */
const badgateway: Contender = {
  name: "@badgateway/oauth2-client OAuth2Fetch",
  floor: false,
  make: async (server) => {
    const client = new OAuth2Client({
      server: new URL(server.urls.tokenUrl).origin,
      tokenEndpoint: new URL(server.urls.tokenUrl).pathname,
      clientId: CLIENT_ID,
      clientSecret: server.apiKey,
      authenticationMethod: "client_secret_basic"
    })
    const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() })
    const url = server.urls.apiUrl + PATH
    const get = async () => {
      const response = await wrapper.fetch(url, { headers: { accept: "application/json" } })
      await response.json()
      return response.status
    }
    return { request: () => settle(get()), close: async () => {} }
  }
}

/**
 * `openid-client`'s `clientCredentialsGrant` behind the promise cache people
 * write around it: reuse the token until it expires, share one pending grant.
 */
const openidClient: Contender = {
  name: "openid-client + promise cache",
  floor: false,
  make: async (server) => {
    const config = new oidc.Configuration(
      { issuer: new URL(server.urls.tokenUrl).origin, token_endpoint: server.urls.tokenUrl },
      CLIENT_ID,
      undefined,
      oidc.ClientSecretBasic(server.apiKey)
    )
    oidc.allowInsecureRequests(config) // the stand-in is plain http on loopback
    let cached: { token: string; expiresAt: number } | undefined
    let pending: Promise<{ token: string; expiresAt: number }> | undefined
    const token = async (): Promise<string> => {
      if (cached !== undefined && Date.now() < cached.expiresAt) return cached.token
      pending ??= oidc.clientCredentialsGrant(config).then((grant) => {
        cached = { token: grant.access_token, expiresAt: Date.now() + (grant.expiresIn() ?? 0) * 1000 }
        return cached
      }).finally(() => {
        pending = undefined
      })
      return (await pending).token
    }
    const url = server.urls.apiUrl + PATH
    return { request: () => settle(token().then((t) => getWithFetch(url, t))), close: async () => {} }
  }
}

/** A token request before every call: the reference page followed step by step. */
const naive: Contender = {
  name: "naive: a token per request",
  floor: false,
  make: async (server) => {
    const url = server.urls.apiUrl + PATH
    return {
      request: () => settle(fetchToken(server).then(({ token }) => getWithFetch(url, token))),
      close: async () => {}
    }
  }
}

export const all: ReadonlyArray<Contender> = [rawFetch, platformStatic, ours, badgateway, openidClient, naive]
/** Variants of ours measured for throughput only. */
export const variants: ReadonlyArray<Contender> = [oursNoTimeout, platformUntraced, oursUntraced]
export const OURS = ours.name
export const RAW_FLOOR = rawFetch.name
export const PLATFORM_FLOOR = platformStatic.name
