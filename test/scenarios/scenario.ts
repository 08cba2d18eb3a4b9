// What a scenario is, and the one runner that registers scenarios as
// node:test suites on an engine: one world (one napbox) per group, started
// with the group's settings, closed after it even when a scenario failed.
// Scenarios create their own tenants, with slugs no other scenario of the
// group uses, so each can run alone (`--test-name-pattern`).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { until } from '../helpers/wait.js';
import { type Engine, startWorld, TIMING, type Timing, type World } from './world.js';

interface Scenario {
  readonly name: string;
  /** Engines this scenario does not run on, and why (shown as a skip). */
  readonly skip?: Partial<Record<Engine, string>>;
  run(world: World): Promise<void>;
}

export interface ScenarioGroup {
  readonly name: string;
  /** NAPBOX_* settings of the group's napbox. */
  readonly env?: (timing: Timing) => Record<string, string>;
  readonly scenarios: readonly Scenario[];
}

/** Registers the groups on `engine`; `concurrent` runs the groups (each its own napbox) at the same time. */
export function runScenarios(engine: Engine, groups: readonly ScenarioGroup[], options: { concurrent?: boolean } = {}): void {
  describe(`scenarios on ${engine}`, { concurrency: options.concurrent ?? false }, () => registerGroups(engine, groups));
}

function registerGroups(engine: Engine, groups: readonly ScenarioGroup[]): void {
  for (const group of groups) {
    describe(`${group.name} (${engine})`, { concurrency: 1 }, () => {
      let world: World | undefined;
      before(async () => {
        world = await startWorld(engine, group.env?.(TIMING[engine]));
      });
      after(async () => {
        await world?.close();
      });
      for (const scenario of group.scenarios) {
        const skip = scenario.skip?.[engine];
        it(scenario.name, skip ? { skip } : {}, async () => {
          assert.ok(world, 'the world started');
          await scenario.run(world);
        });
      }
    });
  }
}

/** The tenant as GET /api/tenants/:slug shows it. */
export async function tenant(w: World, slug: string): Promise<any> {
  const res = await w.api('GET', `/api/tenants/${slug}`);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json;
}

export async function createTenant(w: World, body: Record<string, unknown>): Promise<void> {
  const res = await w.api('POST', '/api/tenants', body);
  assert.equal(res.status, 201, JSON.stringify(res.json));
}

/** Resolves once the tenant is in `state`, within `ms`. */
export async function untilState(w: World, slug: string, state: string, ms: number): Promise<number> {
  return until(async () => (await tenant(w, slug)).state === state, ms, `${slug} ${state}`);
}

/** The message once it is done or failed (long-polls the API), within `timing.replyMs`. */
export async function settled(w: World, slug: string, id: string): Promise<any> {
  let message: any;
  await until(
    async () => {
      message = (await w.api('GET', `/api/tenants/${slug}/messages/${id}?wait=2s`)).json;
      return message.state === 'done' || message.state === 'failed';
    },
    w.timing.replyMs,
    `message ${id} of ${slug} answered`,
  );
  return message;
}
