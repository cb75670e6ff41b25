const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes bytes as strict UTF-8: undefined for any invalid sequence, never U+FFFD, so two byte
 * strings never decode to the same text. The one decoder for everything Tessera reads (request
 * bodies, tokens, signed documents, fetched JSON); each caller answers undefined with its own error.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes)
  } catch {
    return undefined
  }
}
