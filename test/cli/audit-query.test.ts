import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runAuditQuery } from '../../lib/cli/audit-query.js'

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0)
const ev = (o: Record<string, unknown>) =>
  JSON.stringify({ level: 'INFO', timestamp: new Date(NOW - 60_000).toISOString(), request_id: 'r', ...o })
const TEXT = [
  ev({ event: 'token.exchange', provider: 'gh', sub: 'repo:a', policy: 'deploy', scope: 'deploy:write' }),
  ev({ event: 'token.denied', provider: 'gh', sub: 'repo:b', error: 'invalid_target' }),
  'plain log noise',
].join('\n')

async function run(argv: string[], stdin = '') {
  let out = ''
  const err: string[] = []
  const code = await runAuditQuery(argv, {
    out: (t) => {
      out += t
    },
    err: (l) => err.push(l),
    readStdin: async () => stdin,
    now: () => NOW,
  })
  return { code, out, err: err.join('\n') }
}

async function file(text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-audit-'))
  const path = join(dir, 'audit.log')
  await writeFile(path, text)
  return path
}

describe('tessera audit query', () => {
  it('filters a file and prints a table with the count', async () => {
    const r = await run([await file(TEXT), '--sub', 'repo:a'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('token.exchange')
    expect(r.out).toContain('deploy:write')
    expect(r.out).not.toContain('repo:b')
    expect(r.out).toContain('1 event(s)')
  })

  it('reads standard input for - and for no file, in CloudWatch form too', async () => {
    const cw = TEXT.split('\n')
      .map((l) => JSON.stringify({ timestamp: NOW, message: l }))
      .join('\n')
    for (const argv of [['-'], []]) {
      const r = await run([...argv, '--event', 'token.denied', '--format', 'json'], cw)
      expect(r.code).toBe(0)
      expect(JSON.parse(r.out)).toEqual([expect.objectContaining({ sub: 'repo:b', error: 'invalid_target' })])
    }
  })

  it('prints [] with exit 0 when nothing matches (json), and says so (table)', async () => {
    const path = await file(TEXT)
    expect(await run([path, '--sub', 'nobody', '--format', 'json'])).toMatchObject({ code: 0, out: '[]\n' })
    expect((await run([path, '--sub', 'nobody'])).out).toBe('no matching audit events\n')
  })

  it('applies --since and --until as durations back from now', async () => {
    const path = await file(TEXT)
    expect(JSON.parse((await run([path, '--since', '2m', '--format', 'json'])).out)).toHaveLength(2)
    expect(JSON.parse((await run([path, '--since', '30s', '--format', 'json'])).out)).toHaveLength(0)
    expect(JSON.parse((await run([path, '--until', '2m', '--format', 'json'])).out)).toHaveLength(0)
  })

  it('--insights prints the Logs Insights query without reading any input', async () => {
    let read = false
    const r = await runAuditQuery(['--insights', '--policy', 'deploy'], {
      out: () => {},
      err: () => {},
      readStdin: async () => {
        read = true
        return ''
      },
      now: () => NOW,
    })
    expect(r).toBe(0)
    expect(read).toBe(false)
    expect((await run(['--insights', '--policy', 'deploy'])).out).toContain('policy = "deploy"')
  })

  it('--help prints usage with examples, exit 0', async () => {
    const r = await run(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('usage: tessera audit query')
    expect(r.out).toContain('examples:')
  })

  it('usage errors exit 2 and name the mistake', async () => {
    for (const [argv, text] of [
      [['--format', 'xml'], '--format must be table or json'],
      [['--since', 'yesterday'], '--since takes a duration'],
      [['a', 'b'], 'at most one input file'],
      [['--bogus'], 'Unknown option'],
    ] as const) {
      const r = await run([...argv])
      expect(r.code).toBe(2)
      expect(r.err).toContain(text)
    }
  })

  it('an unreadable file exits 1 naming it', async () => {
    const r = await run(['/nonexistent/audit.log'])
    expect(r.code).toBe(1)
    expect(r.err).toContain('cannot read /nonexistent/audit.log')
  })
})
