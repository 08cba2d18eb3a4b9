#!/usr/bin/env node
// The `napbox` admin CLI, from the compiled JavaScript in dist/ (`npm run build`;
// `npm start` and `npm test` build it when the sources changed).
try {
  await import('../dist/src/cli/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('napbox: not built yet: run `npm run build` (or `npm start`, which builds) in the napbox folder\n');
    process.exit(1);
  }
  throw err;
}
