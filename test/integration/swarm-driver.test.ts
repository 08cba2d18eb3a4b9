// The driver contract suite against the Swarm driver, on this engine made a
// single-node swarm (initialised here when it is in none), with the real
// agent image: the same tests the plain Docker driver passes.

import path from 'node:path';
import { runDriverContract } from '../../src/runtime/container-driver.contract.js';
import { SwarmDriver } from '../../src/runtime/swarm-driver.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { loadConfig } from '../../src/config/config.js';
import { ROOT } from '../helpers/napbox-process.js';

const driver = new SwarmDriver();
await driver.ensureSwarm();
const image = await requireAgentImage({ driver, containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });

runDriverContract('swarm (bridge)', () => new SwarmDriver(), { image, mode: 'bridge' });
runDriverContract('swarm (published)', () => new SwarmDriver(), { image, mode: 'published' });
