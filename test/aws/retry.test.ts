import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isThrottlingAwsError, isTransientAwsError } from '../../lib/aws/retry.js'

const named = (name: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error('x'), { name }, extra)

describe('isThrottlingAwsError', () => {
  it.each([
    'ThrottlingException',
    'Throttling',
    'TooManyRequestsException',
    'RequestLimitExceeded',
    'ProvisionedThroughputExceededException',
  ])('%s is throttling, and transient', (name) => {
    expect(isThrottlingAwsError(named(name))).toBe(true)
    expect(isTransientAwsError(named(name))).toBe(true)
  })

  it('the SDK throttling flag or an HTTP 429 is throttling whatever the name', () => {
    expect(isThrottlingAwsError(named('Whatever', { $retryable: { throttling: true } }))).toBe(true)
    expect(isThrottlingAwsError(named('Whatever', { $metadata: { httpStatusCode: 429 } }))).toBe(true)
  })

  it.each([
    'KMSInternalException',
    'InternalFailure',
    'ServiceUnavailable',
    'TimeoutError',
    'DeadlineExceeded',
    'AccessDeniedException',
    'ValidationException',
    'LimitExceededException',
  ])('%s is not throttling', (name) => {
    expect(isThrottlingAwsError(named(name))).toBe(false)
  })

  it('a retryable fault that is not throttling, a 500 or a 400 is not throttling', () => {
    expect(isThrottlingAwsError(named('X', { $retryable: { throttling: false } }))).toBe(false)
    expect(isThrottlingAwsError(named('X', { $metadata: { httpStatusCode: 500 } }))).toBe(false)
    expect(isThrottlingAwsError(named('X', { $metadata: { httpStatusCode: 400 } }))).toBe(false)
  })

  it('never throws and is false for anything that is not an Error', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(isThrottlingAwsError(value)).toBe(false)
      }),
    )
  })
})
