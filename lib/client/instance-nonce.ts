import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { link, mkdir, open, stat, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InstanceMetadataError } from '../errors.js'

const NONCE_RE = /^[A-Za-z0-9_-]{43}$/

/**
 * The TOFU nonce: 32 random bytes (base64url), created once with mode 0600 and reused. A file
 * readable by group or others is refused (anyone who reads it can impersonate this instance).
 */
export async function loadOrCreateNonce(file: string): Promise<string> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  // Write a complete temporary file, then link it into place: link() fails if the name exists, so
  // concurrent first runs agree on one nonce and nobody ever reads a half-written file.
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  const nonce = randomBytes(32).toString('base64url')
  await writeFile(temp, `${nonce}\n`, { mode: 0o600, flag: 'wx' })
  try {
    await link(temp, file)
    return nonce
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    await unlink(temp)
  }
  return readOwnNonce(file)
}

/**
 * Reads an existing nonce file safely: never through a symlink (O_NOFOLLOW), only from a directory
 * others cannot write, and only a regular file of this user that nobody else can read (type, owner
 * and mode checked on the open handle, so nothing can be swapped in between the check and the read).
 */
async function readOwnNonce(file: string): Promise<string> {
  const dirInfo = await stat(dirname(file))
  if ((dirInfo.mode & 0o022) !== 0) {
    throw new InstanceMetadataError(
      `${dirname(file)} is writable by other users, who could replace the nonce file; fix with chmod 700`,
    )
  }
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new InstanceMetadataError(`${file} is a symbolic link; refusing to read the nonce through it`)
    throw err
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new InstanceMetadataError(`${file} is not a regular file`)
    const uid = process.getuid?.()
    if (uid !== undefined && info.uid !== uid) {
      throw new InstanceMetadataError(`${file} belongs to another user; refusing to use it`)
    }
    if ((info.mode & 0o077) !== 0) {
      throw new InstanceMetadataError(
        `${file} is readable by other users; fix with chmod 600 (or delete it and reset the binding)`,
      )
    }
    const stored = (await handle.readFile({ encoding: 'utf8' })).trim()
    if (!NONCE_RE.test(stored))
      throw new InstanceMetadataError(`${file} does not hold a valid instance nonce`)
    return stored
  } finally {
    await handle.close()
  }
}
