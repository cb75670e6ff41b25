import { describe, expect, it } from 'vitest'
import { buildChain, parseCertificate } from '../../lib/assertion/x509.js'
import { makeCert, type TestCert } from '../helpers/cms-builder.js'

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3'
const ANY = '2.5.29.37.0'
const now = Date.parse('2030-01-01T00:00:00Z')
const p = (c: TestCert) => parseCertificate(c.der)
const names = (chain: ReturnType<typeof buildChain>) => chain?.map((c) => c.commonNames[0])

describe('x509 chain: pathLenConstraint', () => {
  it('is parsed from basicConstraints', () => {
    expect(p(makeCert({ cn: 'r', ca: true, pathLen: 0 })).pathLen).toBe(0)
    expect(p(makeCert({ cn: 'r', ca: true, pathLen: 3 })).pathLen).toBe(3)
    expect(p(makeCert({ cn: 'r', ca: true })).pathLen).toBeUndefined()
  })

  it('a root with pathLen 0 signs leaves directly, but no chain through an intermediate', () => {
    const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06, pathLen: 0 })
    const mid = makeCert({ cn: 'mid', ca: true, keyUsage: 0x06, issuer: root })
    const leaf = makeCert({ cn: 'leaf', issuer: mid, keyUsage: 0x80 })
    const direct = makeCert({ cn: 'direct', issuer: root, keyUsage: 0x80 })
    expect(buildChain(p(leaf), [p(mid)], [p(root)], now)).toBeUndefined()
    expect(names(buildChain(p(direct), [], [p(root)], now))).toEqual(['direct', 'root'])
  })

  it('an intermediate with pathLen 0 may not have another CA below it', () => {
    const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06 })
    const mid = makeCert({ cn: 'mid', ca: true, keyUsage: 0x06, issuer: root, pathLen: 0 })
    const sub = makeCert({ cn: 'sub', ca: true, keyUsage: 0x06, issuer: mid })
    const leaf = makeCert({ cn: 'leaf', issuer: sub, keyUsage: 0x80 })
    const ok = makeCert({ cn: 'ok', issuer: mid, keyUsage: 0x80 })
    expect(buildChain(p(leaf), [p(mid), p(sub)], [p(root)], now)).toBeUndefined()
    expect(names(buildChain(p(ok), [p(mid)], [p(root)], now))).toEqual(['ok', 'mid', 'root'])
  })

  it('pathLen 1 allows exactly one CA below', () => {
    const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06, pathLen: 1 })
    const mid = makeCert({ cn: 'mid', ca: true, keyUsage: 0x06, issuer: root })
    const sub = makeCert({ cn: 'sub', ca: true, keyUsage: 0x06, issuer: mid })
    const leaf = makeCert({ cn: 'leaf', issuer: sub, keyUsage: 0x80 })
    const near = makeCert({ cn: 'near', issuer: mid, keyUsage: 0x80 })
    expect(buildChain(p(leaf), [p(mid), p(sub)], [p(root)], now)).toBeUndefined()
    expect(names(buildChain(p(near), [p(mid)], [p(root)], now))).toEqual(['near', 'mid', 'root'])
  })
})

describe('x509 chain: extended key usage', () => {
  const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06 })

  it('a CA restricted to serverAuth cannot vouch for a code-signing leaf', () => {
    const mid = makeCert({ cn: 'mid', ca: true, keyUsage: 0x06, issuer: root, eku: [SERVER_AUTH] })
    const leaf = makeCert({ cn: 'leaf', issuer: mid, keyUsage: 0x80, eku: [CODE_SIGNING] })
    expect(p(leaf).extendedKeyUsage).toEqual([CODE_SIGNING])
    expect(buildChain(p(leaf), [p(mid)], [p(root)], now)).toBeUndefined()
  })

  it('a leaf whose purposes the CA covers chains', () => {
    const mid = makeCert({
      cn: 'mid',
      ca: true,
      keyUsage: 0x06,
      issuer: root,
      eku: [SERVER_AUTH, CLIENT_AUTH],
    })
    const leaf = makeCert({ cn: 'leaf', issuer: mid, keyUsage: 0x80, eku: [SERVER_AUTH, CLIENT_AUTH] })
    expect(names(buildChain(p(leaf), [p(mid)], [p(root)], now))).toEqual(['leaf', 'mid', 'root'])
  })

  it('a CA listing anyExtendedKeyUsage restricts nothing; a CA without the extension neither', () => {
    const anyMid = makeCert({ cn: 'any', ca: true, keyUsage: 0x06, issuer: root, eku: [ANY] })
    const leaf = makeCert({ cn: 'leaf', issuer: anyMid, keyUsage: 0x80, eku: [CODE_SIGNING] })
    expect(names(buildChain(p(leaf), [p(anyMid)], [p(root)], now))).toEqual(['leaf', 'any', 'root'])
  })

  it('a leaf purpose beyond an upper CA is refused even when the nearer CA allows it', () => {
    const top = makeCert({ cn: 'top', ca: true, keyUsage: 0x06, issuer: root, eku: [SERVER_AUTH] })
    const mid = makeCert({
      cn: 'mid',
      ca: true,
      keyUsage: 0x06,
      issuer: top,
      eku: [SERVER_AUTH, CODE_SIGNING],
    })
    const leaf = makeCert({ cn: 'leaf', issuer: mid, keyUsage: 0x80, eku: [CODE_SIGNING] })
    expect(buildChain(p(leaf), [p(mid), p(top)], [p(root)], now)).toBeUndefined()
  })
})

describe('x509 chain: name constraints', () => {
  it('a CA declaring name constraints is never used (they are not evaluated)', () => {
    const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06 })
    const mid = makeCert({ cn: 'mid', ca: true, keyUsage: 0x06, issuer: root, permittedDns: 'example.com' })
    const leaf = makeCert({ cn: 'metadata.azure.com', issuer: mid, keyUsage: 0x80 })
    expect(p(mid).hasNameConstraints).toBe(true)
    expect(buildChain(p(leaf), [p(mid)], [p(root)], now)).toBeUndefined()
  })

  it('a root declaring name constraints is not used either', () => {
    const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06, permittedDns: 'azure.com' })
    const leaf = makeCert({ cn: 'metadata.azure.com', issuer: root, keyUsage: 0x80 })
    expect(buildChain(p(leaf), [], [p(root)], now)).toBeUndefined()
  })

  it('certificates without the extension are unaffected', () => {
    const root = makeCert({ cn: 'root', ca: true, keyUsage: 0x06 })
    const leaf = makeCert({ cn: 'leaf', issuer: root, keyUsage: 0x80 })
    expect(p(root).hasNameConstraints).toBe(false)
    expect(names(buildChain(p(leaf), [], [p(root)], now))).toEqual(['leaf', 'root'])
  })
})
