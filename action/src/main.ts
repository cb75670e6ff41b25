import { appendFileSync } from 'node:fs'
import { runAction } from './run.js'

process.exitCode = await runAction({
  env: process.env,
  write: (text) => process.stdout.write(text),
  appendFile: (path, text) => appendFileSync(path, text, { encoding: 'utf8' }),
})
