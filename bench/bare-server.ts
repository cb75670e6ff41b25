// The HTTP ceiling of this machine: node:http reading the form body and answering a fixed JSON
// body of a token response's size, with the same headers. No parsing, no crypto.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const body = JSON.stringify({
  access_token: `${'e'.repeat(120)}.${'p'.repeat(300)}.${'s'.repeat(86)}`,
  issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  token_type: 'Bearer',
  expires_in: 600,
  scope: 'deploy:write',
})

const server = createServer((req, res) => {
  let size = 0
  req.on('data', (chunk: Buffer) => {
    size += chunk.length
  })
  req.on('end', () => {
    res.writeHead(size > 0 ? 200 : 400, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Content-Length': Buffer.byteLength(body),
    })
    res.end(body)
  })
})
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`bare listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`)
})
