// The scenarios of test/scenarios/ (sweep, dispatcher, relay, tenant proxy,
// admin API) on the real Docker engine: the same definitions the unit suite
// runs on FakeDriver, so the fake and the engine answer to the same tests.

import { ALL_SCENARIOS } from '../scenarios/all.js';
import { runScenarios } from '../scenarios/scenario.js';

runScenarios('docker', ALL_SCENARIOS);
