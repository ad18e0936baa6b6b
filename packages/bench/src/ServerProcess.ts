/** Starts `server.ts` as a child process and talks to it. */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Command, Counters, Ready, Reply } from "./protocol.js"

/** Commands without their `id`: distributive, so each keeps its own fields. */
type Request = Command extends infer C ? C extends Command ? Omit<C, "id"> : never : never

export interface ServerProcess extends Ready {
  readonly counters: () => Promise<Counters>
  readonly reset: () => Promise<void>
  readonly configure: (tokenLifetimeSeconds: number, tokenLatencyMillis: number) => Promise<void>
  readonly stop: () => void
}

export const start = (): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./server.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const pending = new Map<number, (result: unknown) => void>()
    let next = 1
    const call = (request: Request): Promise<unknown> =>
      new Promise((done) => {
        const id = next++
        pending.set(id, done)
        child.send({ ...request, id })
      })
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)))
    child.on("message", (reply: Reply) => {
      if (reply.id === 0) {
        const ready = reply.result as Ready
        resolve({
          ...ready,
          counters: () => call({ op: "counters" }) as Promise<Counters>,
          reset: async () => void (await call({ op: "reset" })),
          configure: async (tokenLifetimeSeconds, tokenLatencyMillis) =>
            void (await call({ op: "configure", tokenLifetimeSeconds, tokenLatencyMillis })),
          stop: () => {
            child.removeAllListeners("exit")
            child.disconnect()
          }
        })
        return
      }
      pending.get(reply.id)?.(reply.result)
      pending.delete(reply.id)
    })
  })
