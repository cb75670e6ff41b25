import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate, tagKeyProblem } from '../../lib/config/aws-grant.js'
import {
  encodeSourceIdentity,
  encodeTagValue,
  renderSessionTags,
  renderSourceIdentity,
  renderTemplate,
  roleSessionName,
  SESSION_ID_RE,
} from '../../lib/credentials/aws-session.js'
import { InvalidTarget, TemplateError } from '../../lib/errors.js'

const TAG_VALUE_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u
const anyText = fc.string({ unit: 'binary', maxLength: 200 })

describe('roleSessionName', () => {
  it('keeps a subject that already fits AWS rules unchanged', () => {
    expect(roleSessionName('orders-fn@acme.com')).toBe('orders-fn@acme.com')
  })

  it('always yields 2-64 characters of [\\w+=,.@-] (property)', () => {
    fc.assert(fc.property(anyText, (sub) => SESSION_ID_RE.test(roleSessionName(sub))))
  })

  it('is deterministic (property)', () => {
    fc.assert(
      fc.property(anyText, (sub) => {
        const first = roleSessionName(sub)
        return roleSessionName(`${sub}`) === first
      }),
    )
  })

  it('maps distinct subjects to distinct names (property)', () => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        fc.pre(a !== b)
        return roleSessionName(a) !== roleSessionName(b)
      }),
    )
  })

  it('separates long subjects that share a 64+ character prefix (property)', () => {
    const prefix = 'repo:acme/a-very-long-repository-name-that-fills-the-limit:ref:refs/heads/'
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        fc.pre(a !== b)
        return roleSessionName(prefix + a) !== roleSessionName(prefix + b)
      }),
    )
  })

  it('keeps a readable prefix of a subject it has to rewrite', () => {
    const name = roleSessionName('repo:acme/app:ref:refs/heads/main')
    expect(name).toMatch(/^repo-acme-app-ref-refs-heads-main=[\w-]{22}$/)
  })

  it('does not let a crafted plain subject collide with a rewritten one', () => {
    const rewritten = roleSessionName('a/b')
    expect(roleSessionName(rewritten)).not.toBe(rewritten)
  })

  it('rewrites a 1-character subject (below the 2-character minimum)', () => {
    expect(roleSessionName('x')).toMatch(/^x=[\w-]{22}$/)
  })

  it('rewrites a subject over 64 characters', () => {
    const name = roleSessionName('a'.repeat(65))
    expect(name.length).toBeLessThanOrEqual(64)
    expect(name).not.toBe('a'.repeat(64))
  })

  it('rewrites an empty subject to a valid name', () => {
    expect(roleSessionName('')).toMatch(SESSION_ID_RE)
  })
})

describe('encodeSourceIdentity', () => {
  it('never starts with "aws:" and always fits (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('aws:', 'AWS:', 'Aws:'), anyText, (p, rest) => {
        const v = encodeSourceIdentity(p + rest)
        return SESSION_ID_RE.test(v) && !v.toLowerCase().startsWith('aws:')
      }),
    )
  })
})

describe('encodeTagValue', () => {
  it('keeps an allowed value unchanged, spaces and unicode letters included', () => {
    expect(encodeTagValue('acme/app:refs/heads/main')).toBe('acme/app:refs/heads/main')
    expect(encodeTagValue('Zürich team 42')).toBe('Zürich team 42')
    expect(encodeTagValue('')).toBe('')
  })

  it('always yields at most 256 allowed characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (v) => TAG_VALUE_RE.test(encodeTagValue(v))),
    )
  })

  it('is injective (property)', () => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        fc.pre(a !== b)
        return encodeTagValue(a) !== encodeTagValue(b)
      }),
    )
  })

  it('rewrites a value with a disallowed character instead of dropping it', () => {
    expect(encodeTagValue('acme/app*')).toMatch(/^acme\/app-=[\w-]{22}$/)
  })

  it('rewrites a value containing the "=" marker so no plain value can imitate a rewritten one', () => {
    const rewritten = encodeTagValue('a*b')
    expect(encodeTagValue(rewritten)).not.toBe(rewritten)
  })

  it('rewrites a value over 256 characters', () => {
    expect(encodeTagValue('x'.repeat(257)).length).toBeLessThanOrEqual(256)
  })
})

describe('templates', () => {
  const claims = {
    repository: 'acme/app',
    run: 42,
    prod: true,
    list: ['a'],
    obj: { a: 1 },
    nul: null,
    nan: Number.NaN,
  }

  it('renders literals and scalar claims', () => {
    expect(renderTemplate('gh:{{repository}}#{{ run }}/{{prod}}', claims)).toBe('gh:acme/app#42/true')
  })

  for (const [name, template] of [
    ['a missing claim', '{{missing}}'],
    ['an array claim', '{{list}}'],
    ['an object claim', '{{obj}}'],
    ['a null claim', '{{nul}}'],
    ['a NaN claim', '{{nan}}'],
    ['an inherited property (constructor)', '{{constructor}}'],
    ['an inherited property (__proto__)', '{{__proto__}}'],
    ['an inherited property (toString)', '{{toString}}'],
  ] as const) {
    it(`refuses ${name}`, () => {
      expect(() => renderTemplate(template, claims)).toThrow(TemplateError)
    })
  }

  for (const bad of ['{{repository', 'repository}}', '{{}}', '{{a b}}', '{{{a}}}', 'x {{ }} y']) {
    it(`rejects the malformed template ${JSON.stringify(bad)}`, () => {
      expect(() => parseTemplate(bad)).toThrow(TemplateError)
    })
  }

  it('parses any text or throws only TemplateError (property)', () => {
    fc.assert(
      fc.property(anyText, (t) => {
        try {
          parseTemplate(t)
          return true
        } catch (err) {
          return err instanceof TemplateError
        }
      }),
    )
  })
})

describe('renderSessionTags / renderSourceIdentity', () => {
  const claims = { sub: 'repo:acme/app', repository: 'acme/app', owner_id: 123, list: ['x'] }

  it('renders every configured tag, encoded', () => {
    expect(renderSessionTags({ repo: '{{repository}}', owner: 'gh-{{owner_id}}' }, claims, 'p')).toEqual([
      { Key: 'repo', Value: 'acme/app' },
      { Key: 'owner', Value: 'gh-123' },
    ])
  })

  it('refuses the exchange (InvalidTarget) rather than omitting a tag whose claim is absent', () => {
    expect(() =>
      renderSessionTags({ repo: '{{repository}}', env: '{{environment}}' }, claims, 'deploy'),
    ).toThrow(InvalidTarget)
  })

  it('refuses a tag whose claim is not a scalar', () => {
    expect(() => renderSessionTags({ l: '{{list}}' }, claims, 'deploy')).toThrow(
      /session tag 'l' needs claim 'list'/,
    )
  })

  it('defaults SourceIdentity to the subject', () => {
    expect(renderSourceIdentity(undefined, 'orders-fn', claims, 'p')).toBe('orders-fn')
  })

  it('refuses a SourceIdentity template naming an absent claim', () => {
    expect(() => renderSourceIdentity('{{actor}}', 'sub', claims, 'p')).toThrow(InvalidTarget)
  })

  it('refuses a SourceIdentity template that renders empty', () => {
    expect(() => renderSourceIdentity('{{e}}', 'sub', { e: '' }, 'p')).toThrow(/empty/)
  })
})

describe('tagKeyProblem', () => {
  it('accepts a valid key', () => {
    expect(tagKeyProblem('repo:name/x=y+z-@')).toBeUndefined()
  })
  for (const [why, key] of [
    ['empty', ''],
    ['too long', 'k'.repeat(129)],
    ['a disallowed character', 'repo*'],
    ['the aws: prefix', 'aws:repo'],
    ['the AWS: prefix in upper case', 'AWS:repo'],
  ] as const) {
    it(`rejects a key that is ${why}`, () => {
      expect(tagKeyProblem(key)).toBeTypeOf('string')
    })
  }
})
