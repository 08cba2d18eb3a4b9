// Every scenario group, in the order the suites run them.

import { adminApiScenarios } from './admin-api.js';
import { dispatcherScenarios } from './dispatcher.js';
import { proxyScenarios } from './proxy.js';
import { relayScenarios } from './relay.js';
import type { ScenarioGroup } from './scenario.js';
import { sweepScenarios } from './sweep.js';

export const ALL_SCENARIOS: readonly ScenarioGroup[] = [adminApiScenarios, proxyScenarios, relayScenarios, dispatcherScenarios, sweepScenarios];
