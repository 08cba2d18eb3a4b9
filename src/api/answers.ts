// The admin API's answers, as schemas shared by the side that writes them
// (admin-api.ts sends each answer typed from its schema; error-response.ts
// writes ErrorBody) and the side that reads them (the CLI parses every answer
// with the same schema before it uses it).
//
// Invariant: each schema is declared as `z.ZodType<View>` of the view type
// the service returns, so a field added to, renamed in or removed from a view
// fails to compile here until the schema follows; the CLI can then never read
// a shape the server no longer writes without saying so.
// Only types are imported from the services: the CLI loads zod and this file,
// nothing of the server.

import { z } from 'zod';
import type { BuildView } from '../images/build-store.js';
import type { PackagesView } from '../images/image-admin.js';
import type { PruneReport } from '../images/prune.js';
import type { MessageView } from '../messages/message-service.js';
import type { TenantView } from '../tenants/tenant-service.js';

/** Every error answer: `{ error: <code>, message, ...details }` (error-response.ts). */
export const ErrorBodySchema = z.looseObject({ error: z.string(), message: z.string() });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

const BuildSummarySchema = z.object({ id: z.string(), state: z.string(), error: z.string().nullable() });

export const TenantViewSchema: z.ZodType<TenantView> = z.object({
  slug: z.string(),
  state: z.string(),
  reason: z.string(),
  stateChangedAt: z.string(),
  lastStartReason: z.string().nullable(),
  lastStopReason: z.string().nullable(),
  lastActivity: z.string().nullable(),
  lastHeartbeat: z.string().nullable(),
  image: z.string(),
  nextImage: z.string().optional(),
  containerId: z.string().nullable(),
  failures: z.number(),
  retryAt: z.string().nullable(),
  holds: z.array(z.string()),
  paused: z.object({ since: z.string(), memoryBytes: z.number().nullable() }).nullable(),
  url: z.string(),
  build: BuildSummarySchema.nullable(),
  recentWakes: z.array(z.object({ at: z.string(), ms: z.number(), outcome: z.enum(['ready', 'failed', 'timeout']) })),
  config: z.record(z.string(), z.unknown()),
});

export const TenantListSchema = z.object({ tenants: z.array(TenantViewSchema) });

export const DeletedSchema = z.object({ deleted: z.string() });

export const SignInLinkSchema = z.object({ tenant: z.string(), url: z.string(), expiresInSeconds: z.number() });

export const MessageViewSchema: z.ZodType<MessageView> = z.object({
  id: z.string(),
  session: z.string(),
  state: z.string(),
  text: z.string(),
  reply: z.string().nullable(),
  tries: z.number(),
  reason: z.string().nullable(),
  createdAt: z.string(),
  repliedAt: z.string().nullable(),
});

export const AcceptedMessageSchema = z.intersection(MessageViewSchema, z.object({ duplicate: z.boolean() }));

export const MessageListSchema = z.object({ messages: z.array(MessageViewSchema) });

const PackageListsSchema = { apt: z.array(z.string()), npm: z.array(z.string()) };

export const BuildViewSchema: z.ZodType<BuildView> = z.object({
  id: z.string(),
  tenant: z.string(),
  state: z.enum(['queued', 'building', 'ready', 'failed']),
  tag: z.string().nullable(),
  baseImage: z.string(),
  lists: z.object(PackageListsSchema),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  error: z.string().nullable(),
  cached: z.boolean(),
  applied: z.boolean(),
  supersededBy: z.string().nullable(),
});

export const BuildWithLogSchema = z.intersection(BuildViewSchema, z.object({ log: z.string() }));

export const PackagesSchema: z.ZodType<PackagesView> = z.object({
  tenant: z.string(),
  ...PackageListsSchema,
  image: z.string(),
  previousImage: z.string().nullable(),
  build: BuildViewSchema.nullable(),
});

const PrunePickSchema = z.object({ ref: z.string(), imageId: z.string(), reason: z.string() });

export const PruneReportSchema: z.ZodType<PruneReport> = z.object({ removed: z.array(PrunePickSchema), kept: z.array(PrunePickSchema) });
