/** Small statistics and a markdown table. */

export interface Table {
  readonly title: string
  readonly note: string
  readonly columns: ReadonlyArray<string>
  readonly rows: Array<ReadonlyArray<string | number>>
}

export const median = (values: ReadonlyArray<number>): number => percentile(values, 0.5)

/**
 * The median of each of `n` contenders over `rounds` interleaved rounds, in
 * alternating direction so that drift hits everyone alike.
 */
export const interleavedMedians = async (
  n: number,
  rounds: number,
  measure: (i: number) => Promise<number>
): Promise<Array<number>> => {
  const samples = Array.from({ length: n }, (): Array<number> => [])
  for (let round = 0; round < rounds; round++) {
    const order = Array.from({ length: n }, (_, i) => i)
    if (round % 2 === 1) order.reverse()
    for (const i of order) samples[i].push(await measure(i))
  }
  return samples.map(median)
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
