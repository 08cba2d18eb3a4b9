// The scenarios (test/scenarios/) on FakeDriver: napbox whole, in process,
// with no engine, every group at once, in a few seconds. The same definitions run on the Docker
// engine in test/integration/scenarios.test.ts.

import { ALL_SCENARIOS } from './all.js';
import { runScenarios } from './scenario.js';

runScenarios('fake', ALL_SCENARIOS, { concurrent: true });
