#!/usr/bin/env node
// The `napbox` admin CLI. Runs the TypeScript sources directly through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
