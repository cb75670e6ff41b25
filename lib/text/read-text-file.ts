import { readFileSync, statSync } from 'node:fs'
import { decodeUtf8 } from './decode-utf8.js'

/** Reads a local text file of at most `maxBytes` as strict UTF-8; throws an Error saying why not. */
export function readTextFile(path: string, maxBytes: number): string {
  if (statSync(path).size > maxBytes) throw new Error(`the file is larger than ${maxBytes} bytes`)
  const text = decodeUtf8(readFileSync(path))
  if (text === undefined) throw new Error('the file is not UTF-8 text')
  return text
}
