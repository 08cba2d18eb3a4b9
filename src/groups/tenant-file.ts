// groups/<slug>/tenant.json: a tenant declared as a file. This module owns its
// schema and its parsing (with a message naming the file and the field); the
// watcher does the I/O, and mounts/prepare-mounts.ts writes what the container
// may read of the settings (config.json, instructions.md).
//
// Invariants:
// - Secrets never live in groups/: an openai provider names the environment
//   variable holding its key (`apiKeyEnv`), never the key. The caller reads
//   the variable when it turns the file into a TenantConfig. Only variables
//   the operator set aside for tenants can be named (SECRET_ENV_PREFIX), so
//   the file cannot copy any other of napbox's variables into a container.
// - Unknown keys are refused (a typo is an error, not an ignored setting),
//   and the folder name must be a valid slug: it becomes the tenant's name.

import { z } from 'zod';
import {
  AppPortSchema,
  ArgSchema,
  CommandProviderSchema,
  EchoProviderSchema,
  EnvSchema,
  LimitsSchema,
  MountRequestSchema,
  OpenAiEndpointSchema,
  ReadinessPathSchema,
  WakeTimeoutSchema,
} from '../model/tenant-config.js';
import { isValidSlug } from '../model/slug.js';

export const TENANT_FILE = 'tenant.json';
/** Larger files are refused before parsing. */
export const TENANT_FILE_MAX_BYTES = 256 * 1024;
const INSTRUCTIONS_MAX_BYTES = 64 * 1024;

/** The only environment variables of napbox a tenant.json may name: the operator's choice, by name. */
const SECRET_ENV_PREFIX = 'NAPBOX_SECRET_';
const ENV_NAME = /^NAPBOX_SECRET_[A-Z0-9_]{1,113}$/;

// The provider of a file is the tenant's, except that an openai provider names
// the environment variable that holds its key: the key never goes in groups/.
const ProviderFileSchema = z.discriminatedUnion('kind', [
  EchoProviderSchema,
  CommandProviderSchema,
  OpenAiEndpointSchema.extend({
    apiKeyEnv: z
      .string()
      .regex(
        ENV_NAME,
        `must name an environment variable of napbox that starts with ${SECRET_ENV_PREFIX}, like ${SECRET_ENV_PREFIX}OPENAI_API_KEY (only those can be handed to a tenant; the key itself never goes in groups/)`,
      ),
  }).strict(),
]);

const TenantFileSchema = z
  .object({
    /** public: its URL wakes it for anyone; private: only with a session from a sign-in link. */
    visibility: z.enum(['public', 'private']).default('public'),
    provider: ProviderFileSchema.optional(),
    app: z
      .object({ command: z.array(ArgSchema).min(1).max(64) })
      .strict()
      .optional(),
    limits: LimitsSchema.optional(),
    readOnlyRootfs: z.boolean().optional(),
    /** Composed after groups/global/instructions.md into /group/.napbox/instructions.md. */
    instructions: z
      .string()
      .refine((s) => Buffer.byteLength(s, 'utf8') <= INSTRUCTIONS_MAX_BYTES, `must be at most ${INSTRUCTIONS_MAX_BYTES} bytes (64 KiB) of UTF-8`)
      .optional(),
    /** Extra mounts, each checked against the mount allowlist (src/mounts/allowlist.ts) before use. */
    mounts: z.array(MountRequestSchema).max(16).optional(),
    /** Plain variables of the app (never secrets: they sit in groups/ and the API shows them). */
    env: EnvSchema.optional(),
    port: AppPortSchema.optional(),
    wakeTimeout: WakeTimeoutSchema.optional(),
    readinessPath: ReadinessPathSchema.optional(),
    startingPage: z.boolean().optional(),
  })
  .strict();

export type TenantFile = z.infer<typeof TenantFileSchema>;

export type TenantFileResult = { readonly ok: true; readonly slug: string; readonly config: TenantFile } | { readonly ok: false; readonly problem: string };

function fieldOf(issuePath: readonly PropertyKey[]): string {
  return issuePath.length === 0 ? '(top level)' : issuePath.map(String).join('.');
}

/** Parses groups/<folderName>/tenant.json. Never throws. */
export function parseTenantFile(text: string, folderName: string): TenantFileResult {
  const file = `groups/${folderName}/${TENANT_FILE}`;
  const shownFolder = JSON.stringify(folderName.slice(0, 60));
  if (!isValidSlug(folderName)) {
    return {
      ok: false,
      problem: `${file}: the folder name ${shownFolder} is not a valid tenant slug: rename the folder to 1-40 lower-case letters, digits and single inner hyphens (not a reserved name such as global or api)`,
    };
  }
  if (Buffer.byteLength(text, 'utf8') > TENANT_FILE_MAX_BYTES) {
    return { ok: false, problem: `${file}: the file is larger than ${TENANT_FILE_MAX_BYTES / 1024} KiB` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { ok: false, problem: `${file}: not valid JSON (${(err as Error).message}): fix the syntax; {} is the smallest valid file` };
  }
  const parsed = TenantFileSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => {
      const field = fieldOf(issue.path);
      if (issue.code === 'unrecognized_keys') {
        const where = issue.path.length === 0 ? '' : ` in "${field}"`;
        const many = issue.keys.length > 1;
        return `unknown key${many ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}: remove ${many ? 'them' : 'it'} or correct the spelling`;
      }
      if (issue.code === 'invalid_type' && issue.input === undefined) return `"${field}" is required`;
      return `"${field}": ${issue.message}`;
    });
    return { ok: false, problem: `${file}: ${problems.join('; ')}` };
  }
  return { ok: true, slug: folderName, config: parsed.data };
}
