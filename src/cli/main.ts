// The admin CLI (`npx napbox <verb>`). Each verb is a thin call to the admin
// API of the running server, found through NAPBOX_DATA_DIR; `token` needs no
// server. Errors print one line and exit 1.

import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.js';
import { asNapboxError } from '../errors.js';
import { assertSlug } from '../model/slug.js';
import type { MessageView } from '../messages/message-service.js';
import type { TenantView } from '../tenants/tenant-service.js';
import type { ApiClient as Client } from './client.js';

/**
 * The API client, loaded only by the verbs that call the server: `--help` loads commander alone (issue 15's
 * 300 ms). The schemas its answers are parsed with (api/answers.ts, zod) load while the first call is on its way.
 */
async function connect(): Promise<Client> {
  const { ApiClient } = await import('./client.js');
  return ApiClient.connect(dataDir());
}

const dataDir = (): string => path.resolve(process.env.NAPBOX_DATA_DIR ?? './data');

function slugArg(value: string): string {
  try {
    return assertSlug(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function print(value: unknown): void {
  process.stdout.write(typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
}

function tenantLine(t: TenantView): string {
  return `${t.slug.padEnd(20)} ${t.state.padEnd(9)} ${t.reason}`;
}

function statusText(t: TenantView): string {
  const rows: Array<[string, string | number | null]> = [
    ['tenant', t.slug],
    ['state', `${t.state} (${t.reason}, since ${t.stateChangedAt})`],
    ['url', t.url],
    ['last start', t.lastStartReason],
    ['last stop', t.lastStopReason],
    ['last activity', t.lastActivity],
    ['holds', t.holds.length ? t.holds.join('; ') : 'none'],
    [
      'paused',
      t.paused
        ? `since ${t.paused.since}, keeping ${t.paused.memoryBytes === null ? 'unknown' : `${Math.round(t.paused.memoryBytes / 1024 ** 2)} MiB`} of memory`
        : '-',
    ],
    ['image', t.image],
    ['build', t.build ? `${t.build.id} ${t.build.state}${t.build.error ? `: ${t.build.error}` : ''}` : '-'],
    ['container', t.containerId?.slice(0, 12) ?? null],
    ['failures', t.failures ? `${t.failures} (next try after ${t.retryAt})` : 0],
  ];
  return `${rows.map(([k, v]) => `${k.padEnd(14)} ${v ?? '-'}`).join('\n')}\n`;
}

export function buildCli(): Command {
  const program = new Command('napbox')
    .description('Admin CLI for napbox. Finds the running server and its admin key through NAPBOX_DATA_DIR (default ./data).')
    .showHelpAfterError();

  program
    .command('token')
    .description('print an admin API token (use it as `Authorization: Bearer <token>`)')
    .option('--ttl <duration>', 'how long the token is valid, like 1h or 30m', '24h')
    .action(async (opts: { ttl: string }) => {
      const ms = parseDuration(opts.ttl);
      if (ms === undefined || ms < 1000) throw new InvalidArgumentError(`--ttl ${opts.ttl} is not a duration like 1h or 30m`);
      print(`${await (await import('./client.js')).adminAuth(dataDir()).issue(Math.floor(ms / 1000))}\n`);
    });

  const tenants = program.command('tenants').description('create, list and remove tenants');
  tenants
    .command('add')
    .description('create a tenant')
    .argument('<slug>', 'lower-case letters, digits and inner hyphens', slugArg)
    .option('--app <argv...>', "the tenant's own HTTP app command (must listen on $PORT); default: the built-in page")
    .option('--private', 'only browsers signed in with a link from `napbox open` may use it')
    .action(async (slug: string, opts: { app?: string[]; private?: boolean }) => {
      const client = await connect();
      const body = { slug, ...(opts.app ? { app: { command: opts.app } } : {}), ...(opts.private ? { visibility: 'private' } : {}) };
      const t = await client.json('POST', '/api/tenants', (A) => A.TenantViewSchema, body);
      print(`created ${t.slug}: ${t.url}\n`);
    });
  tenants
    .command('list')
    .description('list tenants with their state')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = await connect();
      const { tenants: list } = await client.json('GET', '/api/tenants', (A) => A.TenantListSchema);
      print(opts.json ? list : `${list.map(tenantLine).join('\n')}${list.length ? '\n' : ''}`);
    });
  tenants
    .command('rm')
    .description('remove a tenant and its container (its data dir is kept)')
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string) => {
      const client = await connect();
      await client.json('DELETE', `/api/tenants/${slug}`, (A) => A.DeletedSchema);
      print(`removed ${slug}\n`);
    });

  program
    .command('wake')
    .description("start a tenant's container now and wait until it is ready")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string) => {
      const client = await connect();
      print(statusText(await client.json('POST', `/api/tenants/${slug}/wake`, (A) => A.TenantViewSchema)));
    });
  program
    .command('open')
    .description('print a sign-in link for a tenant (valid 10 minutes); opening it lets that browser use a private tenant')
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string) => {
      const client = await connect();
      print(`${(await client.json('POST', `/api/tenants/${slug}/open`, (A) => A.SignInLinkSchema)).url}\n`);
    });
  program
    .command('stop')
    .description("stop a tenant's container now")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string) => {
      const client = await connect();
      print(statusText(await client.json('POST', `/api/tenants/${slug}/stop`, (A) => A.TenantViewSchema)));
    });
  program
    .command('status')
    .description('show a tenant: state and why, holds, last start and stop, image (all tenants without a slug)')
    .argument('[slug]', 'the tenant', slugArg)
    .option('--json', 'print JSON')
    .action(async (slug: string | undefined, opts: { json?: boolean }) => {
      const client = await connect();
      if (!slug) {
        const { tenants: list } = await client.json('GET', '/api/tenants', (A) => A.TenantListSchema);
        print(opts.json ? list : `${list.map(tenantLine).join('\n')}\n`);
        return;
      }
      const t = await client.json('GET', `/api/tenants/${slug}`, (A) => A.TenantViewSchema);
      print(opts.json ? t : statusText(t));
    });
  program
    .command('send')
    .description('send a chat message to a tenant (waking it) and print the reply when it comes')
    .argument('<slug>', 'the tenant', slugArg)
    .argument('<text>', 'the message')
    .option('--session <id>', 'the conversation: 1-64 letters, digits, _ or -', 'cli')
    .option('--id <id>', 'your id for the message: sending again with the same id does not send twice')
    .option('--timeout <duration>', 'how long to wait for the reply', '5m')
    .action(async (slug: string, text: string, opts: { session: string; id?: string; timeout: string }) => {
      const limit = parseDuration(opts.timeout);
      if (limit === undefined) throw new InvalidArgumentError(`--timeout ${opts.timeout} is not a duration like 30s or 5m`);
      const client = await connect();
      const accepted = await client.json('POST', `/api/tenants/${slug}/messages`, (A) => A.AcceptedMessageSchema, {
        text,
        session: opts.session,
        ...(opts.id ? { id: opts.id } : {}),
      });
      process.stderr.write(`accepted ${accepted.id} (session ${accepted.session})\n`);
      const deadline = Date.now() + limit;
      let message: MessageView = accepted;
      while ((message.state === 'pending' || message.state === 'processing') && Date.now() < deadline) {
        const wait = Math.max(1, Math.min(25_000, deadline - Date.now()));
        message = await client.json('GET', `/api/tenants/${slug}/messages/${accepted.id}?wait=${wait}ms`, (A) => A.MessageViewSchema);
      }
      if (message.state === 'done') return print(`${message.reply ?? ''}\n`);
      if (message.state === 'failed') throw new Error(`message ${message.id} failed: ${message.reason}`);
      throw new Error(`no reply within ${opts.timeout}; it is still ${message.state}: \`napbox status ${slug}\``);
    });

  program
    .command('retry')
    .description('deliver a failed message again, its tries starting over (the tenant is woken for it)')
    .argument('<slug>', 'the tenant', slugArg)
    .argument('<id>', 'the message id (m_...), as `napbox send` or the API printed it')
    .action(async (slug: string, id: string) => {
      const client = await connect();
      const message = await client.json('POST', `/api/tenants/${slug}/messages/${encodeURIComponent(id)}/retry`, (A) => A.MessageViewSchema);
      print(`${message.id} is ${message.state} again\n`);
    });

  const packages = program.command('packages').description("a tenant's apt and npm packages, built into its own image");
  const listsOf = (opts: { apt?: string[]; npm?: string[] }) => ({ apt: opts.apt ?? [], npm: opts.npm ?? [] });
  const change = (verb: 'add' | 'rm') =>
    packages
      .command(verb)
      .description(verb === 'add' ? 'add packages and build the image (the tenant uses it from its next start)' : 'remove packages and build the image')
      .argument('<slug>', 'the tenant', slugArg)
      .option('--apt <names...>', 'Debian packages, like jq or curl')
      .option('--npm <names...>', 'npm packages, like is-odd or @scope/name@^1')
      .option('--now', 'restart the tenant on the new image as soon as it is ready')
      .action(async (slug: string, opts: { apt?: string[]; npm?: string[]; now?: boolean }) => {
        const client = await connect();
        const current = await client.json('GET', `/api/tenants/${slug}/packages`, (A) => A.PackagesSchema);
        const delta = listsOf(opts);
        // The same merge the package grammar defines (a new version replaces the old entry: jq -> jq=1.6), checked before anything is sent.
        const { addPackages, removePackages } = await import('../images/packages.js');
        const next = verb === 'add' ? addPackages(current, delta) : removePackages(current, delta);
        const build = await client.json('PUT', `/api/tenants/${slug}/packages${opts.now ? '?apply=now' : ''}`, (A) => A.BuildViewSchema, next);
        print(
          `apt: ${next.apt.join(' ') || '-'}\nnpm: ${next.npm.join(' ') || '-'}\nbuild ${build.id}: ${build.state} (follow it with \`napbox build ${slug}\`)\n`,
        );
      });
  change('add');
  change('rm');
  packages
    .command('list')
    .description("show the tenant's package lists, image and latest build")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string) => {
      const client = await connect();
      print(await client.json('GET', `/api/tenants/${slug}/packages`, (A) => A.PackagesSchema));
    });
  program
    .command('build')
    .description("stream the log of the tenant's latest image build, live, until it ends")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string) => {
      const client = await connect();
      const { build } = await client.json('GET', `/api/tenants/${slug}/packages`, (A) => A.PackagesSchema);
      if (!build) return print(`${slug} has no builds: add packages with \`napbox packages add ${slug} --apt jq\`\n`);
      const res = await client.stream(`/api/builds/${build.id}/log?follow=1`);
      for await (const chunk of res) process.stdout.write(chunk as Buffer);
      const final = await client.json('GET', `/api/builds/${build.id}`, (A) => A.BuildWithLogSchema);
      if (final.state === 'failed') throw new Error(`build ${build.id} failed: ${final.error ?? 'see the log above'}`);
    });
  program
    .command('images')
    .description('manage tenant images')
    .command('prune')
    .description("remove tenant images no tenant uses (each tenant's current and previous image are kept)")
    .action(async () => {
      const client = await connect();
      print(await client.json('POST', '/api/images/prune', (A) => A.PruneReportSchema));
    });

  program
    .command('logs')
    .description("print a tenant's container logs")
    .argument('<slug>', 'the tenant', slugArg)
    .option('--tail <lines>', 'how many of the last lines', '200')
    .option('-f, --follow', 'keep printing new output as it comes (Ctrl-C to stop)')
    .action(async (slug: string, opts: { tail: string; follow?: boolean }) => {
      const client = await connect();
      const res = await client.stream(`/api/tenants/${slug}/logs?tail=${encodeURIComponent(opts.tail)}${opts.follow ? '&follow=1' : ''}`);
      for await (const chunk of res) process.stdout.write(chunk as Buffer);
    });
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`napbox: ${asNapboxError(err).message}\n`);
    process.exit(1);
  });
