import { describe, expect, it } from 'vitest'
import { checkDeployConfigPresent } from '../../scripts/bundle.js'

// `npm run package` without a config used to bundle functions that refuse every request, with
// only a warning scrolling by.
describe('bundling without a deployment config', () => {
  it('fails unless --allow-empty-config, naming the file and both ways out', () => {
    expect(() =>
      checkDeployConfigPresent('/repo/tessera.yaml', { exists: false, allowEmpty: false }),
    ).toThrow(
      'bundle: no config at /repo/tessera.yaml: pass --config <file> (or set TESSERA_DEPLOY_CONFIG; see docs/deploy.md), or --allow-empty-config to bundle functions that refuse to start until a config is bundled',
    )
  })

  it('with --allow-empty-config warns instead', () => {
    expect(checkDeployConfigPresent('/repo/tessera.yaml', { exists: false, allowEmpty: true })).toBe(
      'bundle: no config at /repo/tessera.yaml; functions will refuse to start until one is bundled (--allow-empty-config)',
    )
  })

  it('says nothing when the config is there', () => {
    for (const allowEmpty of [true, false])
      expect(checkDeployConfigPresent('/repo/tessera.yaml', { exists: true, allowEmpty })).toBeUndefined()
  })
})
