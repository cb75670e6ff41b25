// The peer: oidc-provider 9 as a Node user would configure it for machine-to-machine tokens.
// client_credentials, client authenticated by private_key_jwt (RS256 assertion verified, jti
// single-use through its ReplayDetection), JWT access tokens via resource indicators, ES256.
// Runs in its own process on 127.0.0.1; the client's public JWK arrives in BENCH_CLIENT_JWK.
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider, { errors } from 'oidc-provider'

const TARGET = 'https://api.example.com'
const clientJwk = JSON.parse(process.env.BENCH_CLIENT_JWK ?? 'null') as Record<string, unknown> | null
if (!clientJwk) throw new Error('BENCH_CLIENT_JWK is required')

const server = createServer()
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const signingJwk = {
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  kid: 'peer-es256',
  alg: 'ES256',
  use: 'sig',
}

const provider = new Provider(issuer, {
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['bench-cookie-key-not-a-secret'] },
  clientAuthMethods: ['private_key_jwt'],
  clients: [
    {
      client_id: 'bench-client',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      // The provider only holds an ES256 key; the client default (RS256) would not validate.
      id_token_signed_response_alg: 'ES256',
      scope: 'deploy:write deploy:read',
      jwks: { keys: [clientJwk] },
    },
  ],
  scopes: ['deploy:write', 'deploy:read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => TARGET,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, resource: string) => {
        // Like a Tessera policy: only a known audience gets a token.
        if (resource !== TARGET) throw new errors.InvalidTarget()
        return {
          scope: 'deploy:write deploy:read',
          audience: TARGET,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }
      },
    },
  },
})
server.on('request', provider.callback())
server.keepAliveTimeout = 65_000
process.stderr.write(`peer listening on ${issuer}\n`)
