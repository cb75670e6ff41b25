/**
 * Renders a sample inventory (two weeks of simulated exchanges through the real recorder and report
 * builder) to docs/inventory-report.html and, with Chromium installed, docs/inventory-report.png.
 * Run: npx tsx scripts/inventory-screenshot.ts
 */
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import type { PolicyConfig } from '../lib/config/schema.js'
import { inventoryFindings } from '../lib/inventory/findings.js'
import { renderInventoryHtml } from '../lib/inventory/render-html.js'
import { buildInventory } from '../lib/inventory/report.js'
import { UsageRecorder } from '../lib/inventory/usage.js'
import { MemoryTable } from '../lib/store/memory-table.js'

const DAY = 86_400_000
const END = Date.UTC(2026, 11, 6, 18)
const policies = [
  {
    name: 'deploy-app',
    provider: 'github-actions',
    grant: { token: { scopes: ['deploy:write', 'deploy:admin'] } },
  },
  {
    name: 'ci-artifacts',
    provider: 'github-actions',
    grant: { aws: { roleArn: 'arn:aws:iam::111122223333:role/ci-artifacts' } },
  },
  { name: 'agent-logs', provider: 'agents', grant: { token: { scopes: ['logs:read'] } } },
  { name: 'legacy-batch', provider: 'gitlab', grant: { token: { scopes: ['batch:run'] } } },
] as unknown as PolicyConfig[]

const clock = { ms: END - 14 * DAY }
const table = new MemoryTable(() => Math.floor(clock.ms / 1000))
const recorder = new UsageRecorder(table, { now: () => clock.ms })
for (let d = 13; d >= 0; d--) {
  clock.ms = END - d * DAY
  for (let i = 0; i < 6 + ((d * 7) % 9); i++)
    recorder.allowed({
      provider: 'github-actions',
      sub: 'repo:acme/app:ref:refs/heads/main',
      policy: 'deploy-app',
      granted: ['deploy:write'],
    })
  for (let i = 0; i < 3 + (d % 4); i++)
    recorder.allowed({
      provider: 'github-actions',
      sub: 'repo:acme/build:ref:refs/heads/main',
      policy: 'ci-artifacts',
      granted: ['arn:aws:iam::111122223333:role/ci-artifacts'],
    })
  if (d % 3 === 0)
    recorder.allowed({ provider: 'agents', sub: 'agent-7', policy: 'agent-logs', granted: ['logs:read'] })
  if (d % 5 === 0) recorder.denied({ provider: 'github-actions', sub: 'repo:acme/fork:pull_request' })
  await recorder.flushAll()
}
clock.ms = END
const report = await buildInventory(table, policies, END)
const html = renderInventoryHtml(report, inventoryFindings(report, 30 * 86_400), 30 * 86_400)
await writeFile('docs/inventory-report.html', html)
if (existsSync('/usr/bin/chromium')) {
  const { launchChromium } = await import('../test/helpers/chromium.js')
  const browser = await launchChromium()
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, javaScriptEnabled: false })
  await page.setContent(html)
  await page.screenshot({ path: 'docs/inventory-report.png', fullPage: true })
  await browser.close()
}
process.stdout.write('wrote docs/inventory-report.html (and .png with Chromium)\n')
