import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inventoryFindings } from '../../lib/inventory/findings.js'
import { renderInventoryHtml } from '../../lib/inventory/render-html.js'
import { hasChromium, launchChromium } from '../helpers/chromium.js'
import { hostileReport } from './inventory-fixture.js'

if (!hasChromium) {
  process.stderr.write(
    'inventory HTML browser test skipped: Chromium is not installed (apt-get install chromium)\n',
  )
}

describe.runIf(hasChromium)('the HTML inventory report in headless Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })

  it('renders offline with JavaScript disabled: figures, findings, tables and the chart', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, offline: true })
    const page = await context.newPage()
    const requests: string[] = []
    page.on('request', (r) => requests.push(r.url()))
    const html = renderInventoryHtml(
      hostileReport,
      inventoryFindings(hostileReport, 30 * 86_400),
      30 * 86_400,
    )
    await page.setContent(html, { waitUntil: 'load' })
    expect(await page.title()).toContain('Tessera inventory')
    expect(await page.locator('.figure').count()).toBe(5)
    expect(await page.locator('table').count()).toBe(3)
    // Two identity rows, the hostile subject shown as text, not run.
    expect(await page.locator('text=<script>alert(1)</script>').count()).toBe(1)
    const bars = page.locator('svg rect')
    expect(await bars.count()).toBe(2)
    const box = await page.locator('svg').boundingBox()
    expect(box?.width).toBeGreaterThan(300)
    expect(box?.height).toBeGreaterThan(80)
    expect(requests).toEqual([])
    const png = await page.screenshot({ fullPage: true })
    expect(png.length).toBeGreaterThan(10_000)
    await context.close()
  }, 60_000)
})
