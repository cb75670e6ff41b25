import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The AWS SDK's Node-version notice is about its future releases, not about Tessera: once here,
// not in every test file (spawned CLIs inherit it, and bin/tessera.ts sets the same default).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
// The dev issuer key of this test file's processes: never the developer's own ~/.tessera.
process.env.TESSERA_HOME = mkdtempSync(join(tmpdir(), 'tessera-home-'))
