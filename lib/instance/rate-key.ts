import { isIPv4, isIPv6 } from 'node:net'

/**
 * The unit a per-address rate limit counts: an IPv4 address (IPv4-mapped IPv6 included), or the
 * /64 of an IPv6 address, since one host usually holds a whole /64 and could otherwise take a
 * fresh address for every request. Anything else (a caller-supplied string in some deployments)
 * is counted as it is.
 */
export function rateLimitUnit(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1]
  if (isIPv4(address)) return address
  // Drop a zone id (fe80::1%eth0): it names an interface, not another host.
  const bare = address.split('%')[0] ?? ''
  if (!isIPv6(bare)) return address
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`
}

/** The eight 16-bit groups of an IPv6 address, lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase()
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16))
}
