// A tenant's own settings, stored as JSON in the tenants table and validated
// on every write and every read. Unknown keys are refused, so a typo is an
// error and not a silently ignored setting.

import { z } from 'zod';
import { containerPathProblem } from './container-path.js';

/** One argument of a command (argv item). */
export const ArgSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => !s.includes('\0'), 'must not contain NUL');

export const EchoProviderSchema = z.object({ kind: z.literal('echo') }).strict();
export const CommandProviderSchema = z
  .object({
    kind: z.literal('command'),
    /** Run once per message: the text on stdin, the session's folder as working directory; stdout is the reply. */
    command: z.array(ArgSchema).min(1).max(64),
    timeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
  })
  .strict();
/** The openai provider without its key: where the key comes from differs (the API holds it; a tenant.json names an env var). */
export const OpenAiEndpointSchema = z.object({
  kind: z.literal('openai'),
  baseUrl: z
    .string()
    .url()
    .max(2048)
    .refine((u) => {
      const url = new URL(u);
      return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !url.search && !url.hash;
    }, 'must be an http(s) URL without credentials, query or fragment'),
  model: z.string().min(1).max(200),
});

const ProviderSchema = z.discriminatedUnion('kind', [
  EchoProviderSchema,
  CommandProviderSchema,
  /** The key is held by napbox, handed to the container at start; never shown by the API or logged. */
  OpenAiEndpointSchema.extend({ apiKey: z.string().min(1).max(4096) }).strict(),
]);

export const LimitsSchema = z
  .object({
    memoryMiB: z.number().int().min(64).max(65_536).optional(),
    cpus: z.number().min(0.05).max(64).optional(),
    pids: z.number().int().min(16).max(32_768).optional(),
  })
  .strict();

export const MountRequestSchema = z
  .object({
    hostPath: z.string().min(1).max(4096),
    containerPath: z.string().superRefine((value, ctx) => {
      const problem = containerPathProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    readWrite: z.boolean().optional(),
  })
  .strict();

export const TenantConfigSchema = z
  .object({
    /** Resources of its container. Defaults: 512 MiB, 1 CPU, 256 processes. */
    limits: LimitsSchema.optional(),
    /** Run with a read-only root filesystem (scratch space: a tmpfs at /tmp). Its own folders stay writable. */
    readOnlyRootfs: z.boolean().optional(),
    /** Host folders to see under /extra/<containerPath>, if the mount allowlist (outside the project) permits them. */
    mounts: z.array(MountRequestSchema).max(16).optional(),
    /** The tenant's own instructions, composed after groups/global/instructions.md into /group/.napbox/instructions.md. */
    instructions: z
      .string()
      .max(64 * 1024)
      .optional(),
    /** public: its URL wakes it for anyone; private: only with a session from a sign-in link. */
    visibility: z.enum(['public', 'private']).optional(),
    /** The agent that answers chat messages. Default: echo. */
    provider: ProviderSchema.optional(),
    /** The tenant's HTTP app: an argv run inside the container that must listen on $PORT (8080). Default: the built-in page. */
    app: z
      .object({ command: z.array(ArgSchema).min(1).max(64) })
      .strict()
      .optional(),
  })
  .strict();

export type TenantConfig = z.infer<typeof TenantConfigSchema>;

/** The config as the API shows it: secrets replaced by a marker. */
export function publicConfig(config: TenantConfig): Record<string, unknown> {
  if (config.provider?.kind !== 'openai') return config;
  return { ...config, provider: { ...config.provider, apiKey: '[set]' } };
}
