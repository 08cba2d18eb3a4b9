// The scenarios (test/scenarios/) on FakeDriver: napbox whole, in process,
// with no engine, in a few seconds. The same definitions run on the Docker
// engine in test/integration/scenarios.test.ts.

import { dispatcherScenarios } from './dispatcher.js';
import { runScenarios } from './scenario.js';
import { sweepScenarios } from './sweep.js';

runScenarios('fake', [sweepScenarios, dispatcherScenarios]);
