/** A plain-text table: columns padded to the widest cell, control characters made visible. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = [header, ...rows].map((r) => r.map(visible))
  const widths = header.map((_, c) => Math.max(...clean.map((r) => (r[c] ?? '').length)))
  return clean
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

function visible(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?')
}
