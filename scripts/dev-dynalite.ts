/**
 * Local DynamoDB for `tessera serve` with `store: { dynamodb: … }`: starts dynalite on loopback and
 * creates Tessera's table (pk S hash, sk S range). `npm run dev:dynalite [-- --port 4567 --table tessera-state]`.
 */
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { stateTableDefinition } from '../lib/store/table-definition.js'

const { values } = parseArgs({
  options: { port: { type: 'string', default: '4567' }, table: { type: 'string', default: 'tessera-state' } },
})
const require = createRequire(import.meta.url)
const dynalite = require('dynalite') as (o: { createTableMs: number }) => import('node:net').Server
const server = dynalite({ createTableMs: 0 })
await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve))
const endpoint = `http://127.0.0.1:${values.port}`
const client = new DynamoDBClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
})
await client.send(new CreateTableCommand(stateTableDefinition(values.table)))
process.stderr.write(
  `dynalite on ${endpoint} with table ${values.table} (in memory; Ctrl-C to stop). In another shell:\n` +
    `  export AWS_ENDPOINT_URL_DYNAMODB=${endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n` +
    `  npx tessera serve --config tessera.yaml   # with store: { dynamodb: { table: ${values.table} } }\n`,
)
