import type { InventoryReport } from '../../lib/inventory/report.js'

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0)
const iso = (ms: number) => new Date(ms).toISOString()

/** An inventory whose names carry markup, CSV and spreadsheet-formula payloads. */
export const hostileReport: InventoryReport = {
  generated_at: iso(T0),
  identities: [
    {
      provider: 'gh',
      sub: '<script>alert(1)</script>',
      first_seen: iso(T0 - 86_400_000),
      last_seen: iso(T0),
      exchanges: 7,
      denied: 1,
      last_denied: iso(T0),
      last_ip: '10.0.0.1',
      instance_id: null,
      policies: [{ name: 'deploy', last_used: iso(T0) }],
    },
    {
      provider: 'gh',
      sub: '=HYPERLINK("http://evil","x"),still one cell',
      first_seen: iso(T0),
      last_seen: null,
      exchanges: 0,
      denied: 3,
      last_denied: iso(T0),
      last_ip: null,
      instance_id: null,
      policies: [],
    },
  ],
  policies: [
    {
      name: 'deploy',
      provider: 'gh',
      kind: 'token',
      grants: [
        { item: 'deploy:write', last_used: iso(T0) },
        { item: 'deploy:admin', last_used: null },
      ],
      last_used: iso(T0),
      identities: 1,
      exchanges_per_day: [
        { day: '2026-12-05', count: 3 },
        { day: '2026-12-06', count: 4 },
      ],
    },
    {
      name: 'never"used',
      provider: 'gh',
      kind: 'aws',
      grants: [{ item: 'arn:aws:iam::111122223333:role/x', last_used: null }],
      last_used: null,
      identities: 0,
      exchanges_per_day: [],
    },
  ],
  clone_alerts: [],
}
