import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { callerClaims, parseCallerIdentity, stsErrorCode, xmlText } from '../../lib/assertion/sts-identity.js'

const ARN = 'arn:aws:sts::111122223333:assumed-role/orders-fn-role/orders-fn'
const doc = (result: string, extra = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <GetCallerIdentityResult>${result}</GetCallerIdentityResult>${extra}\n  <ResponseMetadata><RequestId>abc</RequestId></ResponseMetadata>\n</GetCallerIdentityResponse>\n`
const fields = (arn = ARN, account = '111122223333', userId = 'AROAEXAMPLE:orders-fn') =>
  `<Arn>${arn}</Arn><UserId>${userId}</UserId><Account>${account}</Account>`

describe('parseCallerIdentity', () => {
  it('reads Arn, Account and UserId', () => {
    expect(parseCallerIdentity(doc(fields()))).toEqual({
      arn: ARN,
      account: '111122223333',
      userId: 'AROAEXAMPLE:orders-fn',
    })
  })

  it('reads an IAM user with a path, the account root and a GovCloud role', () => {
    expect(
      parseCallerIdentity(
        doc(fields('arn:aws:iam::111122223333:user/ops/team/alice', undefined, 'AIDAEXAMPLE')),
      ),
    ).toBeDefined()
    expect(
      parseCallerIdentity(doc(fields('arn:aws:iam::111122223333:root', undefined, '111122223333'))),
    ).toBeDefined()
    // IAM paths may hold any of U+0021-U+007F, DEL included: a valid user is never an STS fault (503).
    expect(
      parseCallerIdentity(doc(fields('arn:aws:iam::111122223333:user/ops\u007f/alice', undefined, 'AIDAEX'))),
    ).toMatchObject({ arn: 'arn:aws:iam::111122223333:user/ops\u007f/alice' })
    expect(
      parseCallerIdentity(doc(fields('arn:aws-us-gov:sts::111122223333:assumed-role/r/s'))),
    ).toBeDefined()
  })

  const refused: [string, string][] = [
    ['a DOCTYPE', `<!DOCTYPE x [<!ENTITY e "arn">]>${doc(fields())}`],
    ['an entity reference in a value', doc(fields('arn:aws:sts::111122223333:assumed-role/r/&e;'))],
    ['a CDATA section', doc(fields('<![CDATA[arn:aws:sts::111122223333:assumed-role/r/s]]>'))],
    ['a comment', doc(fields('arn:aws:sts::111122223333:assumed-role/r/<!-- x -->s'))],
    ['a processing instruction', doc(fields(), '<?evil x?>')],
    ['an Arn repeated inside the result', doc(`${fields()}<Arn>arn:aws:iam::111122223333:root</Arn>`)],
    ['an Arn repeated outside the result', doc(fields(), '<Arn>arn:aws:iam::111122223333:root</Arn>')],
    ['two results', doc(fields(), `<GetCallerIdentityResult>${fields()}</GetCallerIdentityResult>`)],
    ['an attribute on Arn', doc(fields().replace('<Arn>', '<Arn x="1">'))],
    ['a missing Account', doc(`<Arn>${ARN}</Arn><UserId>AROAEXAMPLE:s</UserId>`)],
    ['an Arn of another account', doc(fields(ARN, '444455556666'))],
    ['a non-12-digit account', doc(fields('arn:aws:sts::1111:assumed-role/r/s', '1111'))],
    ['an ARN of another partition family', doc(fields('arn:aws-cn:sts::111122223333:assumed-role/r/s'))],
    ['an ARN of an unknown principal type', doc(fields('arn:aws:iam::111122223333:group/admins'))],
    ['a malformed UserId', doc(fields(ARN, undefined, 'AROA EXAMPLE'))],
    ['another root element', doc(fields()).replaceAll('GetCallerIdentityResponse', 'AssumeRoleResponse')],
    ['trailing content after the root', `${doc(fields())}<x/>`],
    ['an ErrorResponse', '<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>'],
    ['empty text', ''],
  ]
  for (const [why, xml] of refused) {
    it(`refuses ${why}`, () => {
      expect(parseCallerIdentity(xml)).toBeUndefined()
    })
  }

  it('never throws on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
        parseCallerIdentity(s)
        parseCallerIdentity(doc(s))
        return true
      }),
    )
  })
})

describe('stsErrorCode', () => {
  it('reads the code of an ErrorResponse', () => {
    expect(stsErrorCode('<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>')).toBe(
      'Throttling',
    )
  })

  it('refuses a code hidden in a DOCTYPE document or outside an ErrorResponse', () => {
    expect(
      stsErrorCode('<!DOCTYPE x><ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>'),
    ).toBeUndefined()
    expect(stsErrorCode('<Other><Code>Throttling</Code></Other>')).toBeUndefined()
  })
})

describe('callerClaims', () => {
  it('splits an assumed-role ARN into role and session', () => {
    expect(callerClaims({ arn: ARN, account: '111122223333', userId: 'AROAEXAMPLE:orders-fn' })).toEqual({
      sub: ARN,
      arn: ARN,
      account: '111122223333',
      principal_id: 'AROAEXAMPLE:orders-fn',
      role: 'orders-fn-role',
      session: 'orders-fn',
    })
  })

  it('names the user of an IAM user ARN, dropping its path', () => {
    const claims = callerClaims({
      arn: 'arn:aws:iam::111122223333:user/ops/alice',
      account: '111122223333',
      userId: 'AIDA1',
    })
    expect(claims.user).toBe('alice')
    expect(claims.role).toBeUndefined()
  })

  it('adds neither role nor user for the account root', () => {
    const claims = callerClaims({
      arn: 'arn:aws:iam::111122223333:root',
      account: '111122223333',
      userId: '111122223333',
    })
    expect(Object.keys(claims).sort()).toEqual(['account', 'arn', 'principal_id', 'sub'])
  })
})

describe('xmlText: escaped characters in IAM paths', () => {
  it('decodes the five predefined XML entities (an IAM path may contain &, <, >, quotes)', () => {
    expect(xmlText('<Arn>arn:aws:iam::1:user/a&amp;b/&lt;x&gt;&quot;&apos;</Arn>', 'Arn')).toBe(
      `arn:aws:iam::1:user/a&b/<x>"'`,
    )
  })
  it.each(['&#38;', '&#x26;', '&foo;', '&amp', 'a & b', '&;'])('refuses any other reference: %s', (text) => {
    expect(xmlText(`<Arn>${text}</Arn>`, 'Arn')).toBeUndefined()
  })
})
