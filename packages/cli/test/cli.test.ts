/**
 * The `evc-net` command as a person runs it: spawned as a process against the
 * stand-in on a loopback port, checked by its output and exit code.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { MockEvcNet } from "effect-evc-net-testing"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const BIN = fileURLToPath(new URL("../bin/evc-net.mjs", import.meta.url))
const API_KEY = "7d9c41e2-5b3a-4c8f-9e1d-2a6b8f0c3e57"
const BASIC = Buffer.from(`1:${API_KEY}`).toString("base64")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const outputs: Array<string> = []

/** Runs `evc-net …` with only the given environment (plus PATH), stdin closed. */
const run = (args: ReadonlyArray<string>, env: Record<string, string>): Promise<Run> =>
  new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        outputs.push(stdout, stderr)
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
      }
    )
    child.stdin?.end()
  })

/**
 * Runs `evc-net …` on a pseudo-terminal (python3's `pty`, which every machine
 * here has): types `typed` and Enter once `prompt` appears, and returns all the
 * terminal showed, as a person would have seen it.
 */
const runOnTerminal = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  prompt: string,
  typed: string
): Promise<Run> =>
  new Promise((resolve) => {
    const script = [
      "import os, pty, sys",
      "pid, fd = pty.fork()",
      "if pid == 0:",
      "    os.execvp(sys.argv[1], sys.argv[1:])",
      "seen, typed = b'', False",
      "while True:",
      "    try:",
      "        chunk = os.read(fd, 4096)",
      "    except OSError:",
      "        break",
      "    if not chunk:",
      "        break",
      "    seen += chunk",
      "    if not typed and os.environ['PTY_PROMPT'].encode() in seen:",
      "        os.write(fd, os.environ['PTY_TYPED'].encode() + b'\\r')",
      "        typed = True",
      "sys.stdout.buffer.write(seen)",
      "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))"
    ].join("\n")
    execFile(
      "python3",
      ["-c", script, process.execPath, BIN, ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          NO_COLOR: "1",
          TERM: "xterm",
          ...env,
          PTY_PROMPT: prompt,
          PTY_TYPED: typed
        },
        timeout: 30_000
      },
      (error, stdout, stderr) => {
        outputs.push(stdout, stderr)
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
      }
    )
  })

const runtime = ManagedRuntime.make(MockEvcNet.layerServer({ accounts: [{ apiKey: API_KEY }] }))
let mock: MockEvcNet.Service
let env: Record<string, string>

beforeAll(async () => {
  mock = await runtime.runPromise(MockEvcNet)
  env = { EVC_NET_API_KEY: API_KEY, EVC_NET_TOKEN_URL: mock.urls.tokenUrl, EVC_NET_API_URL: mock.urls.apiUrl }
})
afterAll(() => runtime.dispose())

describe("evc-net", () => {
  it("--help describes the commands and --version prints the version", async () => {
    const help = await run(["--help"], {})
    expect(help.code).toBe(0)
    for (const command of ["token", "request", "mock"]) expect(help.stdout).toContain(command)
    const version = await run(["--version"], {})
    expect(version.stdout.trim()).toBe("0.1.0")
  }, 30_000)

  it("token prints an access token; --json and --header format it", async () => {
    const plain = await run(["token"], env)
    expect(plain.code).toBe(0)
    expect(plain.stdout.trim()).toMatch(/^mock-\d+-[0-9a-f-]+$/)
    const json = JSON.parse((await run(["token", "--json"], env)).stdout) as Record<string, string>
    expect(json.token_type).toBe("Bearer")
    expect(json.access_token).toMatch(/^mock-/)
    expect(Date.parse(json.expires_at)).toBeGreaterThan(Date.now())
    expect((await run(["token", "--header"], env)).stdout).toMatch(/^Authorization: Bearer mock-\S+\n$/)
  }, 30_000)

  it("request prints the JSON answer on stdout and status and timing on stderr", async () => {
    const result = await run(["request", "POST", "/demo/echo", "--data", "{\"a\":[1]}", "--query", "x=1"], env)
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ received: { a: [1] } })
    expect(result.stdout).toContain("\n  ") // pretty-printed
    expect(result.stderr).toMatch(/^200 in \d+ ms\n$/)
  }, 30_000)

  it("--data @file sends the file's JSON", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "evc-net-")), "body.json")
    writeFileSync(file, "{\"from\": \"file\"}")
    const result = await run(["request", "POST", "/demo/echo", "--data", `@${file}`], env)
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ received: { from: "file" } })
    const missing = await run(["request", "POST", "/demo/echo", "--data", "@/no/such/file.json"], env)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("--data: cannot read /no/such/file.json")
  }, 30_000)

  it("a non-2xx answer exits 1 with one line naming the status", async () => {
    const result = await run(["request", "GET", "/demo/chargers/NO-SUCH"], env)
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain("EVC-net answered 404 to GET /demo/chargers/NO-SUCH")
  }, 30_000)

  it("bad credentials exit 1 with a line a person can act on", async () => {
    const result = await run(["token"], { ...env, EVC_NET_API_KEY: "not-the-key" })
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain("rejected the client credentials")
    expect(result.stderr).toContain("EVC_NET_API_KEY")
    expect(result.stderr).not.toContain("not-the-key")
  }, 30_000)

  it("an unreachable server exits 1 with one line", async () => {
    const result = await run(["request", "GET", "/x", "--token-url", "http://127.0.0.1:9/oauth/v2/token"], env)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^evc-net: POST http:\/\/127\.0\.0\.1:9\/oauth\/v2\/token failed: .*ECONNREFUSED/)
  }, 30_000)

  it("a 401 from the API is recovered with one refresh", async () => {
    await Effect.runPromise(mock.resetCounters)
    await Effect.runPromise(mock.failNext("api", 1, {
      status: 401,
      headers: { "www-authenticate": "Bearer error=\"invalid_token\"" }
    }))
    const result = await run(["request", "GET", "/demo/whoami"], env)
    expect(result.code).toBe(0)
    expect(await Effect.runPromise(mock.counters)).toMatchObject({ tokenRequests: 2, apiByStatus: { 200: 1, 401: 1 } })
  }, 30_000)

  it("with no EVC_NET_API_KEY and no terminal it says how to set it; the key is never a flag", async () => {
    const result = await run(["token"], { EVC_NET_TOKEN_URL: env.EVC_NET_TOKEN_URL })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("EVC_NET_API_KEY is not set")
    expect((await run(["token", "--api-key", API_KEY], env)).code).not.toBe(0)
  }, 30_000)

  it("on a terminal with no EVC_NET_API_KEY it asks for the key and does not echo it", async () => {
    const { EVC_NET_API_KEY: _, ...withoutKey } = env
    const result = await runOnTerminal(["token"], withoutKey, "EVC-net API key", API_KEY)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("EVC-net API key")
    expect(result.stdout).toMatch(/mock-\d+-[0-9a-f-]+/)
    expect(result.stdout).not.toContain(API_KEY)
  }, 30_000)

  it("mock serves the stand-in and prints its URLs and demo credentials", async () => {
    const child = spawn(process.execPath, [BIN, "mock", "--port", "0", "--lifetime", "60"], {
      env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" }
    })
    try {
      const printed = await new Promise<string>((resolve, reject) => {
        let text = ""
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString()
          if (text.includes("EVC_NET_API_KEY=")) resolve(text)
        })
        child.once("exit", (code) => reject(new Error(`mock exited with ${code}`)))
      })
      const value = (name: string) => new RegExp(`export ${name}=(\\S+)`).exec(printed)?.[1] ?? ""
      const result = await run(["token", "--json"], {
        EVC_NET_TOKEN_URL: value("EVC_NET_TOKEN_URL"),
        EVC_NET_API_URL: value("EVC_NET_API_URL"),
        EVC_NET_API_KEY: value("EVC_NET_API_KEY")
      })
      expect(result.code).toBe(0)
      const expiresIn = Date.parse((JSON.parse(result.stdout) as { expires_at: string }).expires_at) - Date.now()
      expect(expiresIn).toBeGreaterThan(50_000)
      expect(expiresIn).toBeLessThanOrEqual(60_000)
    } finally {
      child.kill()
    }
  }, 30_000)

  it("no output of any run above contained the API key or the Basic string", () => {
    expect(outputs.length).toBeGreaterThan(10)
    for (const output of outputs) {
      expect(output).not.toContain(API_KEY)
      expect(output).not.toContain(BASIC)
    }
  })
})
