/** Messages between the benchmark and its server process. */
import type { MockEvcNet } from "effect-evc-net-testing"

export type Command =
  | { readonly id: number; readonly op: "counters" }
  | { readonly id: number; readonly op: "reset" }
  | {
    readonly id: number
    readonly op: "configure"
    readonly tokenLifetimeSeconds: number
    readonly tokenLatencyMillis: number
  }

export interface Reply {
  readonly id: number
  readonly result: unknown
}

export interface Ready {
  readonly urls: MockEvcNet.Urls
  readonly apiKey: string
}

export type Counters = MockEvcNet.Counters
