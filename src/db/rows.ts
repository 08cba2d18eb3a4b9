// Rows read back from SQLite go through a schema, like any other input: a row
// that is not as napbox wrote it (a hand edit, a half-applied migration) is a
// clear error naming the table, not a value of the wrong type deeper down.
// The common shapes of small queries are here; each store keeps the schema of
// its own full rows.

import { z } from 'zod';
import { firstIssue, NapboxError } from '../errors.js';

export function row<S extends z.ZodType>(schema: S, raw: unknown, table: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new NapboxError('internal', `a row of ${table} is not as napbox wrote it (${firstIssue(parsed.error, 'row')}): was the database edited by hand?`);
  }
  return parsed.data;
}

export function rows<S extends z.ZodType>(schema: S, raw: readonly unknown[], table: string): z.infer<S>[] {
  return raw.map((r) => row(schema, r, table));
}

export function maybeRow<S extends z.ZodType>(schema: S, raw: unknown, table: string): z.infer<S> | undefined {
  return raw === undefined ? undefined : row(schema, raw, table);
}

export const CountRow = z.object({ n: z.number().int().min(0) });
export const StateCountRow = z.object({ state: z.string(), n: z.number().int().min(0) });
export type StateCount = z.infer<typeof StateCountRow>;
export const IdRow = z.object({ id: z.string() });
