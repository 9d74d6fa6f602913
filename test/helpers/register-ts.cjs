// Lets a plain `node` subprocess require the TypeScript sources in lib/ (as vitest does in
// its workers): node -r test/helpers/register-ts.cjs script.cjs. Tests use it for what must
// run outside the vitest worker: another uid (setpriv), or a process whose namespaces may
// be changed by setns without touching the worker's.
'use strict';
const fs = require('node:fs');
const { transformSync } = require('esbuild');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    loader: 'ts',
    format: 'cjs',
    target: 'node20',
    sourcefile: filename,
  });
  module._compile(code, filename);
};
