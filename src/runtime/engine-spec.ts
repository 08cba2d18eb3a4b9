// What a tenant's workload is given alike, whether the engine runs it as a
// container (docker-driver.ts) or as a swarm service's task
// (swarm-service.ts): its environment, its mounts and its hardening, in the
// engine's words. One place, so the two drivers cannot drift apart. Pure.
//
// Invariants:
// - Every workload runs an init as PID 1 (signals reach the app: Node as
//   PID 1 ignores SIGTERM), with every capability dropped, no restart policy
//   (napbox decides every start) and the spec's memory, CPU and pids limits.
// - `no-new-privileges` is set on containers only: a swarm service cannot
//   express it on the engines napbox supports (docs/scale-out.md).
// - A volume a workload creates carries the workload's labels.

import type { ContainerSpec } from './container-driver.js';

/** The hardening both drivers apply (container-spec.ts adds the non-root user and the limits). */
export const HARDENING = Object.freeze({
  init: true,
  capDrop: Object.freeze(['ALL'] as const),
  /** Docker's SecurityOpt; containers only (see the header). */
  securityOpt: Object.freeze(['no-new-privileges'] as const),
});

/** `KEY=value` lines, as both the container and the service APIs take them. */
export function engineEnv(spec: ContainerSpec): string[] {
  return Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
}

interface EngineMount {
  readonly Type: 'bind' | 'volume';
  readonly Source: string;
  readonly Target: string;
  readonly ReadOnly: boolean;
  readonly BindOptions?: { readonly Propagation: 'rprivate' };
  readonly VolumeOptions?: {
    readonly NoCopy: false;
    readonly Labels: Record<string, string>;
    readonly DriverConfig: { readonly Name: 'local'; readonly Options: Record<string, string> };
  };
}

/** The spec's bind and volume mounts, in the shape a container's HostConfig.Mounts and a service's ContainerSpec.Mounts share. */
export function engineMounts(spec: ContainerSpec): EngineMount[] {
  return spec.mounts.map((m) =>
    m.type === 'bind'
      ? { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly, BindOptions: { Propagation: 'rprivate' } }
      : {
          Type: 'volume',
          Source: m.source,
          Target: m.target,
          ReadOnly: m.readOnly,
          VolumeOptions: { NoCopy: false, Labels: { ...spec.labels }, DriverConfig: { Name: 'local', Options: {} } },
        },
  );
}
