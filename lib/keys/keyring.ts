import type { SigningConfig } from '../config/schema.js'
import { createLocalSigner, loadOrCreateKeyFile } from './local-signer.js'
import type { KeyRing, Signer } from './signer.js'

type KeyRef = { local: string } | { kms: string }

/** Builds the KeyRing from `signing`: the active signer plus every published public key (active first). */
export async function createKeyRing(
  signing: SigningConfig,
  opts: { baseDir?: string } = {},
): Promise<KeyRing> {
  const refs: { ref: KeyRef; active: boolean }[] = signing.key
    ? [{ ref: signing.key, active: true }]
    : (signing.keys ?? []).map(({ active, ...ref }) => ({ ref: ref as KeyRef, active }))
  const signers = await Promise.all(refs.map(({ ref }) => openSigner(ref, signing.algorithm, opts.baseDir)))
  const activeIndex = refs.findIndex((r) => r.active)
  const active = signers[activeIndex]
  if (!active) throw new Error('signing: no active key')
  const seen = new Set<string>()
  const publicKeys = [active, ...signers.filter((s) => s !== active)]
    .filter((s) => !seen.has(s.kid) && seen.add(s.kid))
    .map((s) => s.publicJwk)
  return { active, publicKeys }
}

async function openSigner(ref: KeyRef, alg: SigningConfig['algorithm'], baseDir?: string): Promise<Signer> {
  if ('local' in ref) {
    const path = baseDir && !ref.local.startsWith('/') ? `${baseDir}/${ref.local}` : ref.local
    return createLocalSigner(await loadOrCreateKeyFile(path, alg), alg)
  }
  // KMS branch: one GetPublicKey at start-up, one Sign per token.
  const { createKmsSigner } = await import('./kms-signer.js')
  return createKmsSigner(ref.kms, alg)
}
