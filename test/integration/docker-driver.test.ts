// The driver contract suite against the real Docker engine and agent image:
// every part with the bridge addresses, and the workloads part (the only one
// that reaches containers) again through published ports.

import path from 'node:path';
import { runDriverContract } from '../../src/runtime/container-driver.contract.js';
import { runWorkloadContract } from '../../src/runtime/workload-driver.contract.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { loadConfig } from '../../src/config/config.js';
import { ROOT } from '../helpers/napbox-process.js';

const driver = new DockerDriver();
const image = await requireAgentImage({ driver, containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });

runDriverContract('docker (bridge)', () => new DockerDriver(), { image, mode: 'bridge' });
runWorkloadContract('docker (published)', () => new DockerDriver(), { image, mode: 'published' });
