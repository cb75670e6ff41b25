import { describe, expect, it } from 'vitest'
import { inventoryFindings } from '../../lib/inventory/findings.js'
import { renderInventoryHtml } from '../../lib/inventory/render-html.js'
import { renderInventoryCsv, renderInventoryTable } from '../../lib/inventory/render-text.js'
import type { InventoryReport } from '../../lib/inventory/report.js'
import { hostileReport } from './inventory-fixture.js'

const findings = inventoryFindings(hostileReport, 30 * 86_400)

describe('renderInventoryHtml', () => {
  const html = renderInventoryHtml(hostileReport, findings, 30 * 86_400)

  it('is one self-contained document: no script, no external resource, no URL to fetch', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/<link|<img|@import|url\(/i)
    expect(html).not.toMatch(/\b(src|href)=/i)
    // The only URL in markup is the SVG namespace, which is never fetched (names show as text).
    expect(html.match(/="https?:[^"]*"/g)).toEqual(['="http://www.w3.org/2000/svg"'])
  })

  it('escapes every name taken from the inventory', () => {
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;')
    expect(html).toContain('never&#34;used')
    expect(html).not.toContain('never"used')
  })

  it('has the summary figures, the tables, the findings and one bar per policy per day in the chart', () => {
    expect(html).toContain('<b>2</b>identities')
    expect(html).toContain('<b>7</b>exchanges')
    expect(html).toContain('<b>4</b>denied')
    expect(html).toContain('deploy:admin')
    expect(html.match(/<rect /g)).toHaveLength(2)
    expect(html).toContain('<title>deploy 2026-12-06: 4</title>')
  })

  it('says so when nothing was exchanged yet', () => {
    const empty = renderInventoryHtml({ ...hostileReport, identities: [], policies: [] }, [], 86_400)
    expect(empty).toContain('No exchanges recorded yet.')
    expect(empty).not.toContain('<svg')
  })
})

describe('renderInventoryCsv', () => {
  const csv = renderInventoryCsv(hostileReport, findings, 30 * 86_400)
  const lines = csv.trimEnd().split('\r\n')

  it('has a header and one row per identity, policy and finding', () => {
    expect(lines[0]).toBe('record,name,provider_or_kind,first_seen,last_seen,exchanges,denied,detail')
    expect(lines.filter((l) => l.startsWith('identity,'))).toHaveLength(2)
    expect(lines.filter((l) => l.startsWith('policy,'))).toHaveLength(2)
    expect(lines.filter((l) => l.startsWith('finding,'))).toHaveLength(findings.length)
  })

  it('quotes commas and quotes (RFC 4180) and defuses spreadsheet formulas', () => {
    expect(csv).toContain(`"'=HYPERLINK(""http://evil"",""x""),still one cell"`)
    expect(csv).toContain('"never""used"')
  })
})

describe('renderInventoryTable', () => {
  it('prints the three sections and the never-used grant', () => {
    const text = renderInventoryTable(hostileReport, findings, 30 * 86_400)
    expect(text).toContain('Identities (2)')
    expect(text).toContain('Policies (2)')
    expect(text).toMatch(/Findings \(\d+\)/)
    expect(text).toContain('deploy:admin')
  })

  it('replaces control characters so a subject cannot rewrite the terminal', () => {
    const report = {
      ...hostileReport,
      identities: [
        { ...(hostileReport.identities[0] as InventoryReport['identities'][number]), sub: 'a\u001b[2Jb\nc' },
      ],
    }
    const text = renderInventoryTable(report, [], 86_400)
    expect(text).not.toContain('\u001b')
    expect(text).toContain('a?[2Jb?c')
  })
})
