import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TOKEN_EXCHANGE_GRANT, TokenTypes } from '../../lib/assertion/token-types.js'
import { BrokerError, InvalidRequest } from '../../lib/errors.js'
import { FormParams } from '../../lib/http/form.js'
import { MAX_TYPE_LENGTH, parseTokenRequest } from '../../lib/token/request.js'

const form = (fields: Record<string, string | string[]>) =>
  new FormParams(new Map(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])))

const valid = {
  grant_type: TOKEN_EXCHANGE_GRANT,
  subject_token: 'eyJ.a.b',
  subject_token_type: TokenTypes.jwt,
}

function refusal(fields: Record<string, string | string[]>): BrokerError {
  try {
    parseTokenRequest(form(fields))
  } catch (err) {
    if (err instanceof BrokerError) return err
    throw err
  }
  throw new Error('expected a refusal')
}

describe('parseTokenRequest: parameter bounds, checked before anything is read', () => {
  it('accepts token types up to the bound', () => {
    const long = `urn:x:${'a'.repeat(MAX_TYPE_LENGTH - 6)}`
    expect(parseTokenRequest(form({ ...valid, subject_token_type: long })).subjectTokenType).toBe(long)
  })

  it.each(['grant_type', 'subject_token_type', 'actor_token_type', 'requested_token_type'])(
    'refuses %s over 256 characters as invalid_request, without echoing it',
    (name) => {
      const hostile = 'eyJ'.repeat(22_000)
      const err = refusal({ ...valid, [name]: hostile })
      expect(err).toBeInstanceOf(InvalidRequest)
      expect(err.status).toBe(400)
      expect(err.message).toBe(`${name} exceeds ${MAX_TYPE_LENGTH} characters`)
    },
  )

  it('refuses an overlong subject_token_type even when the grant type is also wrong (bounds come first)', () => {
    const err = refusal({ ...valid, grant_type: 'password', subject_token_type: 'x'.repeat(300) })
    expect(err.code).toBe('invalid_request')
  })

  it('refuses an overlong scope and an overlong audience', () => {
    expect(refusal({ ...valid, scope: 'a '.repeat(3000) }).message).toMatch(/^scope exceeds \d+ characters$/)
    expect(refusal({ ...valid, audience: `https://x/${'a'.repeat(3000)}` }).message).toBe(
      'audience exceeds 2048 characters',
    )
  })

  it('property: any value over the bound is refused with the same message, whatever it holds', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('grant_type', 'subject_token_type', 'actor_token_type', 'requested_token_type'),
        fc.string({ minLength: MAX_TYPE_LENGTH + 1, maxLength: 2 * MAX_TYPE_LENGTH }),
        (name, value) =>
          refusal({ ...valid, [name]: value }).message === `${name} exceeds ${MAX_TYPE_LENGTH} characters`,
      ),
    )
  })
})
