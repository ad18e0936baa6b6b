/**
 * A module the way an application would write one on top of effect-evc-net:
 * a service of its own, built on `EvcNetClient`, with its own schema. The
 * `testing` example (`examples/test/chargers.test.ts`) tests it with
 * `EvcNetTest` and `TestClock`.
 *
 * The paths and fields are the stand-in's labelled demo resources: our
 * reference documents EVC-net's token endpoint, not its resources.
 */
import { EvcNetClient } from "effect-evc-net"
import type { EvcNetError } from "effect-evc-net"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

export const Charger = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: Schema.Literal("Available", "Charging", "Faulted"),
  maxPowerKw: Schema.Number
})
export type Charger = typeof Charger.Type

const ChargerList = Schema.Struct({ chargers: Schema.Array(Charger) })

/** The application's own service: what it needs from EVC-net, typed. */
export class Chargers extends Context.Tag("examples/Chargers")<Chargers, {
  readonly list: Effect.Effect<ReadonlyArray<Charger>, EvcNetError>
  /** Chargers a driver can use now. */
  readonly available: Effect.Effect<ReadonlyArray<Charger>, EvcNetError>
}>() {
  static readonly layer = Layer.effect(
    Chargers,
    Effect.gen(function*() {
      const evc = yield* EvcNetClient
      const list = evc.get("/demo/chargers", { schema: ChargerList }).pipe(
        Effect.map((answer) => answer.chargers),
        Effect.withSpan("Chargers.list")
      )
      return {
        list,
        available: Effect.map(list, (all) => all.filter((charger) => charger.status === "Available"))
      }
    })
  )
}
