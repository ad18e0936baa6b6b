/** Small statistics and a markdown table. */

export interface Table {
  readonly title: string
  readonly note: string
  readonly columns: ReadonlyArray<string>
  readonly rows: Array<ReadonlyArray<string | number>>
}

export const median = (values: ReadonlyArray<number>): number => percentile(values, 0.5)

/**
 * `rounds` measurements of each of `n` contenders, interleaved, in alternating
 * direction so that drift hits everyone alike: `samples[i][round]`.
 */
export const interleavedSamples = async (
  n: number,
  rounds: number,
  measure: (i: number) => Promise<number>
): Promise<Array<Array<number>>> => {
  const samples = Array.from({ length: n }, (): Array<number> => [])
  for (let round = 0; round < rounds; round++) {
    const order = Array.from({ length: n }, (_, i) => i)
    if (round % 2 === 1) order.reverse()
    for (const i of order) samples[i].push(await measure(i))
  }
  return samples
}

/** The median of each contender over interleaved rounds (see {@link interleavedSamples}). */
export const interleavedMedians = async (
  n: number,
  rounds: number,
  measure: (i: number) => Promise<number>
): Promise<Array<number>> => (await interleavedSamples(n, rounds, measure)).map(median)

/**
 * `a` over `b` round by round: the median, least and greatest ratio. Taken
 * within a round, a ratio is not moved by the machine getting faster or
 * slower between rounds; its spread shows how far one round can be trusted.
 */
export const roundRatios = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  const ratios = a.map((value, round) => value / b[round])
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }
}

/** Nearest-rank percentile; `p` in [0, 1]. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

export const formatTable = (table: Table): string => {
  const line = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`
  return [
    `## ${table.title}`,
    "",
    table.note,
    "",
    line(table.columns),
    line(table.columns.map((_, i) => (i === 0 ? "---" : "---:"))),
    ...table.rows.map(line),
    ""
  ].join("\n")
}
