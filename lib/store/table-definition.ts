import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb'

/**
 * Tessera's one table (docs/design.md "DynamoDB table"): `pk` (S, hash), `sk` (S, range), on demand, TTL on
 * `expiresAt`. In AWS `infra/dynamodb.yml` creates it; this is for local dynalite and tests.
 */
export function stateTableDefinition(table: string): CreateTableCommandInput {
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  }
}
