/**
 * A minimal, strict reader of STS query-protocol XML answers. No XML parser: no entities, no DOCTYPE,
 * no CDATA, no comments are accepted at all, so nothing can expand, include or hide content; each
 * element Tessera reads must occur exactly once and hold plain text.
 */

/** Who STS says signed the request. */
export interface CallerIdentity {
  readonly arn: string
  readonly account: string
  readonly userId: string
}

const XML_DECL_RE = /^<\?xml version="1\.0"(?: encoding="UTF-8")?\?>\s*/i
const ACCOUNT_RE = /^\d{12}$/
const USER_ID_RE = /^[A-Za-z0-9]{1,128}(?::[\w+=,.@-]{1,128})?$/
const NAME = '[\\w+=,.@-]{1,128}'
const ARN_RE = new RegExp(
  `^arn:(aws|aws-us-gov):(sts|iam)::(\\d{12}):(?:assumed-role/(${NAME})/(${NAME})|user/(?:[\\x21-\\x7f]{0,510}/)?(${NAME})|federated-user/(${NAME})|root)$`,
)

/** The text of the one `<name>` element, or undefined when absent, repeated, or not plain text. */
export function xmlText(xml: string, name: string): string | undefined {
  const open = `<${name}>`
  const first = xml.indexOf(open)
  if (first === -1 || xml.indexOf(open, first + 1) !== -1 || xml.includes(`<${name} `)) return undefined
  const start = first + open.length
  const end = xml.indexOf(`</${name}>`, start)
  if (end === -1) return undefined
  const text = xml.slice(start, end)
  if (/[<>]/.test(text)) return undefined
  // IAM paths may hold '&' (and '<', '>', quotes), which STS escapes: decode exactly the five
  // predefined entities; any other reference (numeric, named, DTD) is refused.
  let ok = true
  const decoded = text.replace(/&([a-z]*);?/g, (ref, name: string) => {
    const char = ref.endsWith(';') ? XML_ENTITIES[name] : undefined
    if (char === undefined) ok = false
    return char ?? ''
  })
  return ok ? decoded : undefined
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/** Refuses anything but plain elements and text (after an optional XML declaration). */
function plainXml(xml: string): string | undefined {
  const body = xml.replace(XML_DECL_RE, '')
  return body.includes('<!') || body.includes('<?') ? undefined : body
}

/** The `<Code>` of an STS error answer, if it is a plain ErrorResponse. */
export function stsErrorCode(xml: string): string | undefined {
  const body = plainXml(xml)
  if (body === undefined || !/^\s*<ErrorResponse[\s>]/.test(body)) return undefined
  const code = xmlText(body, 'Code')
  return code !== undefined && /^[A-Za-z.]{1,64}$/.test(code) ? code : undefined
}

/** Parses a GetCallerIdentityResponse; undefined unless it is exactly what STS sends. */
export function parseCallerIdentity(xml: string): CallerIdentity | undefined {
  const body = plainXml(xml)
  if (
    body === undefined ||
    !/^\s*<GetCallerIdentityResponse[\s>][\s\S]*<\/GetCallerIdentityResponse>\s*$/.test(body)
  ) {
    return undefined
  }
  const open = '<GetCallerIdentityResult>'
  const start = body.indexOf(open)
  if (start === -1 || body.indexOf(open, start + 1) !== -1) return undefined
  const end = body.indexOf('</GetCallerIdentityResult>', start)
  if (end === -1) return undefined
  const inner = body.slice(start + open.length, end)
  const values: string[] = []
  for (const name of ['Arn', 'Account', 'UserId']) {
    // Once in the whole document and inside the result, so two readers can never disagree.
    const value = xmlText(inner, name)
    if (value === undefined || xmlText(body, name) !== value) return undefined
    values.push(value)
  }
  const [arn, account, userId] = values as [string, string, string]
  if (!ACCOUNT_RE.test(account) || !USER_ID_RE.test(userId)) return undefined
  const m = ARN_RE.exec(arn)
  if (!m || m[3] !== account) return undefined
  return { arn, account, userId }
}

/** Policy claims for a caller: `sub`/`arn`, `account`, `principal_id`, plus `role`+`session` or `user`. */
export function callerClaims(id: CallerIdentity): Record<string, string> {
  const claims: Record<string, string> = {
    sub: id.arn,
    arn: id.arn,
    account: id.account,
    principal_id: id.userId,
  }
  const m = ARN_RE.exec(id.arn)
  if (m?.[5] !== undefined && m[4] !== undefined) {
    claims.role = m[4]
    claims.session = m[5]
  } else if (m?.[6] !== undefined) {
    claims.user = m[6]
  }
  return claims
}

/** The ARN's partition (aws, aws-us-gov), for the region consistency check. */
export function arnPartition(arn: string): string | undefined {
  return ARN_RE.exec(arn)?.[1]
}
