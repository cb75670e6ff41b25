import { describe, expect, it } from 'vitest'
import { isLoopbackHost, urlProblem } from '../../lib/config/url.js'

describe('the URL policy', () => {
  it.each([
    'https://idp.example.com',
    'https://idp.example.com/path?x=1',
    'http://127.0.0.1:8787',
    'http://localhost/jwks',
    'http://[::1]:9000/',
  ])('accepts %s', (url) => {
    expect(urlProblem(url, 'URL')).toBeUndefined()
  })

  it.each([
    ['plain http to a remote host', 'http://idp.example.com', /must use https/],
    ['credentials', 'https://user:pw@idp.example.com', /credentials/],
    ['a fragment', 'https://idp.example.com/#x', /fragment/],
    ['an empty fragment', 'https://idp.example.com/#', /fragment/],
    ['whitespace', 'https://idp.example.com/ x', /whitespace/],
    ['a backslash', 'https://idp.example.com\\evil', /backslash/],
    ['a relative URL', '/jwks', /absolute/],
    ['another scheme', 'file:///etc/passwd', /must use https/],
    ['a look-alike loopback name', 'http://127.0.0.1.evil.example/', /must use https/],
  ])('refuses %s', (_, url, problem) => {
    expect(urlProblem(url, 'URL')).toMatch(problem)
  })

  it('an issuer may not have a query, even an empty one', () => {
    expect(urlProblem('https://idp.example.com/?', 'issuer', { query: false })).toMatch(/query/)
    expect(urlProblem('https://idp.example.com/?a=b', 'issuer', { query: false })).toMatch(/query/)
  })

  it('a URL learned from a remote document is never plain-http loopback', () => {
    const learned = 'http://127.0.0.1:9001/2018-06-01/runtime'
    expect(urlProblem(learned, 'jwks_uri', { learnedFrom: 'https://idp.example.com' })).toMatch(
      /loopback URL/,
    )
    expect(urlProblem(learned, 'jwks_uri', { learnedFrom: 'not a url' })).toMatch(/must use https/)
    expect(urlProblem(learned, 'jwks_uri', { learnedFrom: 'http://localhost:8080' })).toBeUndefined()
    expect(
      urlProblem('https://keys.example.com', 'jwks_uri', { learnedFrom: 'https://idp.example.com' }),
    ).toBeUndefined()
  })

  it('loopback hosts are exactly localhost, 127.0.0.0/8 and [::1]', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) expect(isLoopbackHost(h)).toBe(true)
    for (const h of ['0.0.0.0', '10.0.0.1', 'localhost.example.com', '[::ffff:127.0.0.1]'])
      expect(isLoopbackHost(h)).toBe(false)
  })
})
