import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  errorCommand,
  escapeData,
  fileCommandEntry,
  maskCommand,
} from '../../action/src/workflow-commands.js'

describe('workflow commands', () => {
  it('mask and error are one line each, whatever the value', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        for (const line of [maskCommand(value), errorCommand(value)]) {
          expect(line.endsWith('\n')).toBe(true)
          expect(line.slice(0, -1)).not.toMatch(/[\r\n]/)
        }
      }),
    )
  })

  it('escaping round-trips (the runner unescapes %25, %0D, %0A)', () => {
    const codes: Record<string, string> = { '%25': '%', '%0D': '\r', '%0A': '\n' }
    const unescapeData = (s: string) => s.replace(/%(?:25|0D|0A)/g, (code) => codes[code]!)
    fc.assert(
      fc.property(fc.string(), (value) => {
        expect(unescapeData(escapeData(value))).toBe(value)
      }),
    )
  })

  it('a message cannot start a command of its own', () => {
    expect(errorCommand('x\n::add-mask::y')).toBe('::error::x%0A::add-mask::y\n')
    expect(maskCommand('a%0Ab')).toBe('::add-mask::a%250Ab\n')
  })

  it('file command entries use a heredoc delimiter, so multi-line values are safe', () => {
    expect(fileCommandEntry('token', 'a\nb', 'EOF_1')).toBe('token<<EOF_1\na\nb\nEOF_1\n')
    const entry = fileCommandEntry('GH_TOKEN', 'v')
    expect(entry).toMatch(/^GH_TOKEN<<ghadelimiter_[0-9a-f-]{36}\nv\nghadelimiter_[0-9a-f-]{36}\n$/)
  })

  it('refuses a value containing the delimiter and names that could break the file format', () => {
    expect(() => fileCommandEntry('token', 'x\nEOF_1\nEVIL=1', 'EOF_1')).toThrow(/delimiter/)
    for (const name of ['', 'A B', 'A<<B', 'A\nB', '1A', 'A=B'])
      expect(() => fileCommandEntry(name, 'v')).toThrow(/invalid name/)
  })
})
