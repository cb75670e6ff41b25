import * as z from 'zod'

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const
const DURATION_RE = /^(\d{1,9})(s|m|h|d)$/

/** Parses `90s`, `15m`, `12h`, `30d` to seconds; returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text)
  if (!m) return undefined
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS]
}

/** A config duration (integer + unit s|m|h|d), parsed to seconds. */
export const DurationSchema = z.string().transform((text, ctx) => {
  const seconds = parseDuration(text)
  if (seconds === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `'${text}' is not a duration: use an integer and s, m, h or d (e.g. 90s, 15m)`,
    })
    return z.NEVER
  }
  return seconds
})

/** A duration bounded to [min, max] seconds, with a readable message. */
export function boundedDuration(minSeconds: number, maxSeconds: number) {
  return DurationSchema.refine((s) => s >= minSeconds && s <= maxSeconds, {
    message: `must be between ${formatSeconds(minSeconds)} and ${formatSeconds(maxSeconds)}`,
  })
}

/** Formats seconds with the largest exact unit (900 → 15m). */
export function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}
