/** Raised when the metadata service, the broker's /nonce or the local nonce file cannot give what is needed. */
export class InstanceMetadataError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'InstanceMetadataError'
  }
}
