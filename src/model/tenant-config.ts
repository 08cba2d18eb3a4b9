// A tenant's own settings, stored as JSON in the tenants table and validated
// on every write and every read. Unknown keys are refused, so a typo is an
// error and not a silently ignored setting.

import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
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

/** The port the runner's control channel listens on inside every container (container-spec.ts CONTROL_PORT). */
export const RUNNER_CONTROL_PORT = 8081;
export const DEFAULT_APP_PORT = 8080;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/**
 * Variables napbox sets, or that change how the runner itself runs (it is a Node.js process started by a shell
 * in the same container): a tenant's env may not name them. Matched without regard to case.
 */
const RESERVED_ENV = new Set(['PORT', 'HOME', 'PATH', 'HOSTNAME', 'BASH_ENV', 'ENV', 'GCONV_PATH', 'HOSTALIASES', 'RES_OPTIONS', 'LOCALDOMAIN']);
/** Node.js, libuv, OpenSSL and glibc read these (TLS checks, CA files, modules loaded into the runner that holds keys). */
const RESERVED_ENV_PREFIXES = ['NAPBOX_', 'LD_', 'NODE_', 'UV_', 'OPENSSL_', 'SSL_CERT_', 'GLIBC_', 'MALLOC_'];

/** Apps expect to be given this one, and it changes nothing Node.js itself does. */
const ALLOWED_ENV = new Set(['NODE_ENV']);

function reservedEnvProblem(name: string): string | undefined {
  const upper = name.toUpperCase();
  if (ALLOWED_ENV.has(upper)) return undefined;
  if (RESERVED_ENV.has(upper) || RESERVED_ENV_PREFIXES.some((p) => upper.startsWith(p))) {
    return `${JSON.stringify(name)} is set by napbox or its runner (PORT, HOME, PATH, HOSTNAME, BASH_ENV, ENV, GCONV_PATH, HOSTALIASES, RES_OPTIONS, LOCALDOMAIN, and NAPBOX_*, LD_*, NODE_* but NODE_ENV, UV_*, OPENSSL_*, SSL_CERT_*, GLIBC_*, MALLOC_*): choose another name (the app's port is the "port" setting)`;
  }
  return undefined;
}

/** Plain variables for the tenant's app (not secrets: the API shows them, and the container can read its settings). */
export const EnvSchema = z.record(z.string(), z.string()).superRefine((env, ctx) => {
  const names = Object.keys(env);
  if (names.length > 64) ctx.addIssue({ code: 'custom', message: `at most 64 variables (got ${names.length})` });
  for (const name of names) {
    if (!ENV_NAME.test(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `${JSON.stringify(name.slice(0, 140))} is not a valid variable name: letters, digits and _, not starting with a digit, at most 128 characters`,
      });
      continue;
    }
    const reserved = reservedEnvProblem(name);
    if (reserved) ctx.addIssue({ code: 'custom', path: [name], message: reserved });
    const value = env[name] ?? '';
    if (value.length > 4096) ctx.addIssue({ code: 'custom', path: [name], message: 'a value may be at most 4096 characters' });
    if (value.includes('\0')) ctx.addIssue({ code: 'custom', path: [name], message: 'a value must not contain NUL' });
  }
});

/** The port the tenant's app listens on (given to it as $PORT). */
export const AppPortSchema = z
  .number()
  .int()
  .min(1024)
  .max(65535)
  .refine((p) => p !== RUNNER_CONTROL_PORT, `${RUNNER_CONTROL_PORT} is the runner's own control port: choose another`);

const WAKE_TIMEOUT_MIN_MS = 1000;
const WAKE_TIMEOUT_MAX_MS = 30 * 60_000;

/** How long this tenant's wake may take, as a duration string ("90s", "2m"). */
export const WakeTimeoutSchema = z
  .string()
  .max(32)
  .refine((text) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms >= WAKE_TIMEOUT_MIN_MS && ms <= WAKE_TIMEOUT_MAX_MS;
  }, 'must be a duration from 1s to 30m, like "90s" or "2m"');

/** The path napbox GETs on the app until it answers below 500 before calling the tenant ready. */
export const ReadinessPathSchema = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => p.startsWith('/') && !p.startsWith('//'), 'must be a path starting with a single "/", like /healthz')
  // Printable ASCII only: Node refuses to send anything else in a request line, and a space would end it.
  .refine((p) => /^[\x21-\x7e]*$/.test(p) && !p.includes('#'), 'must be printable ASCII without spaces or # (percent-encode the rest)');

/** How long a wake of the tenant may take: its "wakeTimeout", else `fallbackMs` (NAPBOX_WAKE_TIMEOUT). */
export function wakeTimeoutOf(config: TenantConfig, fallbackMs: number): number {
  return config.wakeTimeout === undefined ? fallbackMs : (parseDuration(config.wakeTimeout) ?? fallbackMs);
}

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
    /** The tenant's HTTP app: an argv run inside the container that must listen on $PORT (the "port" setting). Default: the built-in page. */
    app: z
      .object({ command: z.array(ArgSchema).min(1).max(64) })
      .strict()
      .optional(),
    /** Plain environment variables of the tenant's container (its app, its command provider). From its next start. */
    env: EnvSchema.optional(),
    /** The port its app listens on, given to it as $PORT; default 8080. From its next start. */
    port: AppPortSchema.optional(),
    /** How long its wake may take; default NAPBOX_WAKE_TIMEOUT. */
    wakeTimeout: WakeTimeoutSchema.optional(),
    /** Ready only once GET <readinessPath> on the app answers below 500; default: once the app accepts connections. */
    readinessPath: ReadinessPathSchema.optional(),
    /** Whether a browser waiting for its cold start may get the "starting" page; default true. */
    startingPage: z.boolean().optional(),
  })
  .strict();

export type TenantConfig = z.infer<typeof TenantConfigSchema>;

/** The config as the API shows it: secrets replaced by a marker. */
export function publicConfig(config: TenantConfig): Record<string, unknown> {
  if (config.provider?.kind !== 'openai') return config;
  return { ...config, provider: { ...config.provider, apiKey: '[set]' } };
}
