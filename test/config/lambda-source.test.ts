import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { lambdaConfigPath, readLambdaConfigText } from '../../lib/config/lambda-source.js'
import { ConfigError } from '../../lib/errors.js'

const root = mkdtempSync(join(tmpdir(), 'tessera-lambda-'))
mkdirSync(join(root, 'dist', 'token'), { recursive: true })
writeFileSync(join(root, 'dist', 'token', 'tessera.json'), '{"issuer":"https://sts.example.com"}\n')
writeFileSync(join(root, 'other.yaml'), 'issuer: https://other.example.com\n')
writeFileSync(join(root, 'huge.yaml'), Buffer.alloc(1024 * 1024 + 1, 0x20))
const lambda = { LAMBDA_TASK_ROOT: root, _HANDLER: 'dist/token/index.handler' }
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('readLambdaConfigText', () => {
  it('reads tessera.json (written by scripts/bundle.ts) next to the function bundle by default', async () => {
    const { file, text } = await readLambdaConfigText(lambda)
    expect(file).toBe(join(root, 'dist', 'token', 'tessera.json'))
    expect(text).toContain('sts.example.com')
  })

  it('honours an absolute TESSERA_CONFIG', async () => {
    const { text } = await readLambdaConfigText({ ...lambda, TESSERA_CONFIG: join(root, 'other.yaml') })
    expect(text).toContain('other.example.com')
  })

  it('resolves a relative TESSERA_CONFIG against the bundle directory', () => {
    expect(lambdaConfigPath({ ...lambda, TESSERA_CONFIG: '../../other.yaml' })).toBe(join(root, 'other.yaml'))
  })

  it('a missing file is a ConfigError naming the file', async () => {
    const err = await readLambdaConfigText({ ...lambda, TESSERA_CONFIG: 'nope.yaml' }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).file).toBe(join(root, 'dist', 'token', 'nope.yaml'))
    expect((err as ConfigError).message).toMatch(/ENOENT/)
  })

  it('a directory is a ConfigError', async () => {
    await expect(readLambdaConfigText({ ...lambda, TESSERA_CONFIG: root })).rejects.toBeInstanceOf(
      ConfigError,
    )
  })

  it('a file over 1 MiB is a ConfigError', async () => {
    const err = await readLambdaConfigText({ ...lambda, TESSERA_CONFIG: join(root, 'huge.yaml') }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).toMatch(/larger than/)
  })

  it('a blank TESSERA_CONFIG falls back to tessera.json', () => {
    expect(lambdaConfigPath({ ...lambda, TESSERA_CONFIG: '  ' })).toBe(
      join(root, 'dist', 'token', 'tessera.json'),
    )
  })
})
