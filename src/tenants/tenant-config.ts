// A tenant's own settings, stored as JSON in the tenants table and validated
// on every write and every read. Unknown keys are refused, so a typo is an
// error and not a silently ignored setting.

import { z } from 'zod';

const ARG = z.string().min(1).max(4096).refine((s) => !s.includes('\0'), 'must not contain NUL');

export const TenantConfigSchema = z
  .object({
    /** The tenant's HTTP app: an argv run inside the container that must listen on $PORT (8080). Default: the built-in page. */
    app: z.object({ command: z.array(ARG).min(1).max(64) }).strict().optional(),
  })
  .strict();

export type TenantConfig = z.infer<typeof TenantConfigSchema>;

export function parseTenantConfig(value: unknown): TenantConfig {
  return TenantConfigSchema.parse(value);
}
