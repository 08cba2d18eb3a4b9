// The engine's place in a swarm: whether it is a manager (the Swarm driver
// needs one), its node id (tasks are pinned to it), and making an engine in
// no swarm a single-node manager for set-up and tests.

import { z } from 'zod';
import { NapboxError } from '../errors.js';
import { absentAs, parseEngine, type EngineClient } from './engine-client.js';

/** The part of `GET /info` that says where the engine is in a swarm. */
const SwarmInfoSchema = z.object({
  Swarm: z
    .object({ LocalNodeState: z.string().optional(), ControlAvailable: z.boolean().optional(), NodeID: z.string().optional(), Error: z.string().optional() })
    .optional(),
});

export class SwarmNode {
  private nodeId: string | undefined;

  constructor(private readonly client: EngineClient) {}

  /**
   * Makes the engine a swarm manager if it is in no swarm: a single-node
   * swarm advertising 127.0.0.1. Returns what it did, for a person to read.
   */
  async ensure(): Promise<string> {
    const state = await this.swarmState();
    if (state.state === 'active' && state.manager) return `already a swarm manager (node ${state.nodeId})`;
    if (state.state === 'active') throw this.notManager('a worker of a swarm');
    if (state.state !== 'inactive') throw this.notManager(`in swarm state "${state.state}"${state.error ? ` (${state.error})` : ''}`);
    // 503, 406: someone else initialised it meanwhile
    await this.client.call('initialise a swarm', () =>
      absentAs(undefined, () => this.client.docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' }), [503, 406]),
    );
    const after = await this.swarmState();
    if (after.state !== 'active' || !after.manager) throw this.notManager(`still in swarm state "${after.state}" after swarmInit`);
    return `initialised a single-node swarm (node ${after.nodeId}, advertising 127.0.0.1)`;
  }

  private async swarmState(): Promise<{ state: string; manager: boolean; nodeId: string; error: string }> {
    const info = parseEngine(SwarmInfoSchema, await this.client.call('read the engine info', () => this.client.docker.info()), 'read the engine info');
    const swarm = info.Swarm ?? {};
    return { state: swarm.LocalNodeState ?? 'inactive', manager: swarm.ControlAvailable === true, nodeId: swarm.NodeID ?? '', error: swarm.Error ?? '' };
  }

  private notManager(what: string): NapboxError {
    return new NapboxError(
      'engine_error',
      `the Docker engine at ${this.client.shown} is ${what}, not a swarm manager: NAPBOX_DRIVER=swarm needs one. Run \`npm run setup\` (it initialises a single-node swarm when the engine is in none), or point DOCKER_HOST at a manager`,
    );
  }

  /** This engine's swarm node id, checking that it is a manager. */
  async id(): Promise<string> {
    if (this.nodeId) return this.nodeId;
    const state = await this.swarmState();
    if (state.state !== 'active' || !state.manager || !state.nodeId)
      throw this.notManager(state.state === 'active' ? 'a worker of a swarm' : `in swarm state "${state.state}"`);
    this.nodeId = state.nodeId;
    return state.nodeId;
  }
}
