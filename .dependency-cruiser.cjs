// The shape of src/, checked in `npm run lint` (and so in `npm test`):
// - no import cycles between modules;
// - the layers of docs/architecture.md ("Layers"): a folder imports only its
//   own layer's folders below it in this list, and lower layers; never upward.
// No exceptions: every edge that broke these (10 when the check came in) was
// removed by moving what was shared down a layer (src/model/, tenants/ for
// locks, leases and activity kinds, config/ for the parsers it needs).
// dependency-cruiser 16 is the last version for Node 20; TypeScript 7 has no
// compiler API, so it parses with swc.

/** Lowest first. A module may import from its own entry and any entry before it. */
const LAYERS = [
  ['base', '^src/(errors|log|tokens|create-once|install-id|safe-read|project-root|server-file|typed-events|lifetime)\\.ts$'],
  ['config', '^src/config/'],
  ['db', '^src/db/'],
  ['model', '^src/model/'],
  ['runtime', '^src/runtime/'],
  ['metrics', '^src/metrics/'],
  ['mounts', '^src/mounts/'],
  ['tenants', '^src/tenants/'],
  ['cluster', '^src/cluster/'],
  ['messages', '^src/messages/'],
  ['sweep', '^src/sweep/'],
  ['images', '^src/images/'],
  ['groups', '^src/groups/'],
  ['api', '^src/api/'],
  ['dashboard', '^src/dashboard/'],
  ['router', '^src/router/'],
  ['cli', '^src/cli/'],
  ['composition', '^src/(app|index)\\.ts$'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `layer-${name}`,
  comment: `${name} may not import a layer above it (docs/architecture.md, "Layers")`,
  severity: 'error',
  from: { path, pathNot: '\\.test\\.ts$' },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle between modules',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { circular: true },
    },
    ...upward,
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$|container-driver\\.contract\\.ts$' },
  },
};
