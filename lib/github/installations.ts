/**
 * Installation ids by owner for one App: `GET /orgs/{owner}/installation`, then
 * `GET /users/{owner}/installation`, cached 10 minutes, one lookup in flight per owner.
 * Only found installations are cached: a missing one is asked again next time.
 */
import * as z from 'zod'
import { GithubAppAuthFailed, InvalidTarget, TemporarilyUnavailable } from '../errors.js'
import type { GithubAnswer } from './client.js'

export const INSTALLATION_CACHE_MS = 10 * 60_000

// Only the member Tessera relies on; GitHub sends many more.
const InstallationSchema = z.object({ id: z.number().int().positive() })

export interface InstallationCache {
  /** The installation id of the App on `owner` (organization first, then user account). */
  lookup(owner: string, get: (path: string) => Promise<GithubAnswer>): Promise<number>
  /** Forgets an owner's installation (GitHub no longer knows the cached id). */
  forget(owner: string): void
}

/** Creates an App's installation cache; `now` (epoch ms) decides expiry. */
export function createInstallationCache(opts: { readonly app: string; readonly now: () => number }) {
  const cached = new Map<string, { id: number; until: number }>()
  const inflight = new Map<string, Promise<number>>()

  const find = async (owner: string, get: (path: string) => Promise<GithubAnswer>): Promise<number> => {
    const account = encodeURIComponent(owner)
    for (const path of [`/orgs/${account}/installation`, `/users/${account}/installation`]) {
      const answer = await get(path)
      if (answer.status === 401) throw new GithubAppAuthFailed(opts.app).withDetail(`GET ${path}: HTTP 401`)
      if (answer.status === 404) continue
      const parsed = answer.status === 200 ? InstallationSchema.safeParse(answer.json) : undefined
      if (!parsed?.success) {
        throw new TemporarilyUnavailable('GitHub is unavailable; retry later').withDetail(
          `GET ${path}: unexpected HTTP ${answer.status} answer`,
        )
      }
      cached.set(owner.toLowerCase(), { id: parsed.data.id, until: opts.now() + INSTALLATION_CACHE_MS })
      return parsed.data.id
    }
    throw new InvalidTarget(`the GitHub App ${opts.app} is not installed on the account ${owner}`)
  }

  const cache: InstallationCache = {
    lookup(owner, get) {
      const key = owner.toLowerCase()
      const hit = cached.get(key)
      if (hit && opts.now() < hit.until) return Promise.resolve(hit.id)
      let running = inflight.get(key)
      if (!running) {
        running = find(owner, get).finally(() => inflight.delete(key))
        inflight.set(key, running)
      }
      return running
    },
    forget(owner) {
      cached.delete(owner.toLowerCase())
    },
  }
  return cache
}
