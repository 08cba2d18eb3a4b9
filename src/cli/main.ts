// The admin CLI (`npx napbox <verb>`). Each verb is a thin call to the admin
// API of the running server, found through NAPBOX_DATA_DIR; `token` needs no
// server. People get tables (table.ts), scripts `--json` (the API's own JSON).
// A failure prints one line and exits with the code of its kind (exit-codes.ts).

import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.js';
import { asNapboxError } from '../errors.js';
import { assertSlug } from '../model/slug.js';
import type { MessageView } from '../messages/message-service.js';
import type { ApiClient as Client } from './client.js';
import { CliError, EXIT, EXIT_CODES_HELP, failureOf } from './exit-codes.js';
import { table } from './table.js';
import { type SettingFlags, type SettingsIo, settingsPatch } from './tenant-settings.js';
import { buildLine, packagesText, pruneText, statusText, tenantTable } from './views.js';

/**
 * The API client, loaded only by the verbs that call the server: `--help` loads commander alone (issue 15's
 * 300 ms). The schemas its answers are parsed with (api/answers.ts, zod) load while the first call is on its way.
 */
async function connect(): Promise<Client> {
  const { ApiClient } = await import('./client.js');
  try {
    return await ApiClient.connect(dataDir());
  } catch (err) {
    // No server file, or no data dir: napbox is not running here.
    throw new CliError(EXIT.unreachable, asNapboxError(err).message, { cause: err });
  }
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

/** The API's JSON with --json, else the text for people. */
function show(opts: { json?: boolean }, value: unknown, text: () => string): void {
  print(opts.json ? value : text());
}

/** Copies a streamed answer to stdout: its last 200 characters, or undefined when the connection was cut (napbox stopped). */
async function printStream(res: AsyncIterable<unknown>): Promise<string | undefined> {
  let last = '';
  try {
    for await (const chunk of res) {
      process.stdout.write(chunk as Buffer);
      last = (last + (chunk as Buffer).toString()).slice(-200);
    }
  } catch {
    return undefined;
  }
  return last;
}

/** The argv after `--` on the command line (commander gives it as operands, without saying where `--` was). */
function afterDashes(cmd: Command, operands: readonly string[]): string[] {
  let root = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as Command & { rawArgs: string[] }).rawArgs;
  const at = raw.indexOf('--');
  const after = at < 0 ? [] : raw.slice(at + 1);
  const same = after.length === operands.length && after.every((a, i) => a === operands[i]);
  if (!same)
    throw new CliError(EXIT.usage, `put a command after --, like: napbox tenants set <slug> --app -- ${operands.join(' ') || 'python3 -m http.server'}`);
  return after;
}

let stdin: string | undefined;
const settingsIo: SettingsIo = {
  readFile: (file) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(EXIT.usage, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  },
  readStdin: () => {
    stdin ??= fs.readFileSync(0, 'utf8'); // read once: `set` maps its flags twice (checked before napbox is asked)
    return stdin;
  },
  env: process.env,
};

/** The flags `tenants add` and `tenants set` share: every setting of PATCH /api/tenants/:slug. */
function settingOptions(cmd: Command, resets: boolean): Command {
  const reset = resets ? '; "default" puts back the default' : '';
  cmd
    .option('--app', "the tenant's own HTTP app: its argv after -- (it must listen on $PORT)")
    .option('--public', 'its URL wakes it for anyone')
    .option('--private', 'only browsers signed in with a link from `napbox open` may use it')
    .option('--provider <kind>', 'the agent that answers messages: echo, command (its argv after --) or openai')
    .option('--command-timeout <duration>', 'with --provider command: how long one message may run, like 5m')
    .option('--base-url <url>', 'with --provider openai: the API base URL, like https://api.openai.com/v1')
    .option('--model <name>', 'with --provider openai: the model')
    .option('--api-key-env <NAME>', 'with --provider openai: read the key from this environment variable')
    .option('--api-key-stdin', 'with --provider openai: read the key from stdin')
    .option('--memory <size>', `memory limit, like 512m or 2g${reset}`)
    .option('--cpus <n>', `CPU limit, like 0.5 or 2${reset}`)
    .option('--pids <n>', `process limit${reset}`)
    .option('--instructions-file <file>', "the tenant's own instructions, from a file (- for stdin)")
    .option('--read-only-rootfs', 'run with a read-only root filesystem')
    .option('--no-read-only-rootfs', 'run with a writable root filesystem')
    .option('--env <NAME=VALUE>', 'an environment variable of its app (again for more)', collect)
    .option('--port <port>', `the port its app listens on, 1024-65535 (given as $PORT)${reset}`)
    .option('--wake-timeout <duration>', `how long a wake may take, like 90s or 2m${reset}`)
    .option('--readiness-path <path>', `an HTTP path napbox GETs until it answers below 500${resets ? '; "default": none, a TCP connect' : ''}`)
    .option(
      '--mount <host:container[:rw]>',
      'a host folder (the allowlist must permit it) at /extra/<container path>, read-only unless :rw (again for more)',
      collect,
    )
    .option('--starting-page', 'browsers waiting for a cold start get a "starting" page')
    .option('--no-starting-page', 'browsers are held like programs while it starts')
    .showHelpAfterError("(a command's argv goes after --, like: napbox tenants set <slug> --app -- python3 -m http.server)")
    .addHelpText(
      'after',
      `
Examples:
  napbox tenants ${resets ? 'set' : 'add'} web --app -- sh -c 'exec python3 -m http.server $PORT'
  napbox tenants ${resets ? 'set' : 'add'} web --private --memory 1g --env GREETING=hello
  OPENAI_KEY=... napbox tenants ${resets ? 'set' : 'add'} web --provider openai --base-url https://api.example.com/v1 --model m --api-key-env OPENAI_KEY`,
    );
  return cmd;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** What the settings flags of `add`/`set` were given as, for settingsPatch. */
function settingFlags(opts: Record<string, unknown>): SettingFlags {
  return opts as SettingFlags;
}

export function buildCli(): Command {
  const program = new Command('napbox')
    .description('Admin CLI for napbox. Finds the running server and its admin key through NAPBOX_DATA_DIR (default ./data).')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .showHelpAfterError()
    .exitOverride();
  const json = (cmd: Command): Command => cmd.option('--json', "print the API's JSON");

  json(program.command('token'))
    .description('print an admin API token (use it as `Authorization: Bearer <token>`)')
    .option('--ttl <duration>', 'how long the token is valid, like 1h or 30m', '24h')
    .action(async (opts: { ttl: string; json?: boolean }) => {
      const ms = parseDuration(opts.ttl);
      if (ms === undefined || ms < 1000) throw new CliError(EXIT.usage, `--ttl ${opts.ttl} is not a duration like 1h or 30m`);
      const seconds = Math.floor(ms / 1000);
      const token = await (await import('./client.js')).adminAuth(dataDir()).issue(seconds);
      show(opts, { token, expiresInSeconds: seconds }, () => `${token}\n`);
    });

  const tenants = program.command('tenants').description('create, list, change and remove tenants');
  settingOptions(json(tenants.command('add')), false)
    .description('create a tenant (with any setting `tenants set` takes)')
    .argument('<slug>', 'lower-case letters, digits and inner hyphens', slugArg)
    .argument('[argv...]', 'after --: the command of --app or of --provider command, taken whole')
    .action(async (slug: string, argv: string[], opts: Record<string, unknown>, cmd: Command) => {
      const patch = settingsPatch(settingFlags(opts), afterDashes(cmd, argv), {}, settingsIo);
      const settings = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null));
      const client = await connect();
      const t = await client.json('POST', '/api/tenants', (A) => A.TenantViewSchema, { slug, ...settings });
      show(opts, t, () => `created ${t.slug}: ${t.url}\n`);
    });
  settingOptions(json(tenants.command('set')), true)
    .description("change a tenant's settings; its next container uses them (a running one keeps its own until it stops)")
    .argument('<slug>', 'the tenant', slugArg)
    .argument('[argv...]', 'after --: the command of --app or of --provider command, taken whole')
    .option('--builtin-app', 'back to the built-in page instead of an app of its own')
    .option('--unset-env <NAME>', 'remove an environment variable of its app (again for more)', collect)
    .option('--unmount <container-path>', 'remove the extra mount at this container path (again for more)', collect)
    .action(async (slug: string, argv: string[], opts: Record<string, unknown>, cmd: Command) => {
      const after = afterDashes(cmd, argv);
      settingsPatch(settingFlags(opts), after, {}, settingsIo); // bad flags are a usage error even when napbox is not running
      const client = await connect();
      // limits and env are merged here with what is stored: the server replaces a top-level setting whole.
      const current = await client.json('GET', `/api/tenants/${slug}`, (A) => A.TenantViewSchema);
      const patch = settingsPatch(settingFlags(opts), after, current.config, settingsIo);
      if (!Object.keys(patch).length) throw new CliError(EXIT.usage, `nothing to change: give a setting (\`napbox tenants set --help\`)`);
      const t = await client.json('PATCH', `/api/tenants/${slug}`, (A) => A.TenantViewSchema, patch);
      show(opts, t, () => `changed ${Object.keys(patch).join(', ')} of ${slug}${t.state === 'running' ? ' (from its next start)' : ''}\n`);
    });
  json(tenants.command('list'))
    .description('list tenants with their state')
    .action(async (opts: { json?: boolean }) => {
      const client = await connect();
      const { tenants: list } = await client.json('GET', '/api/tenants', (A) => A.TenantListSchema);
      show(opts, list, () => tenantTable(list));
    });
  json(tenants.command('rm'))
    .description('remove a tenant and its container (its data dir is kept)')
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string, opts: { json?: boolean }) => {
      const client = await connect();
      const answer = await client.json('DELETE', `/api/tenants/${slug}`, (A) => A.DeletedSchema);
      show(opts, answer, () => `removed ${slug}\n`);
    });

  json(program.command('wake'))
    .description("start a tenant's container now and wait until it is ready")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string, opts: { json?: boolean }) => {
      const client = await connect();
      const t = await client.json('POST', `/api/tenants/${slug}/wake`, (A) => A.TenantViewSchema);
      show(opts, t, () => statusText(t));
    });
  json(program.command('open'))
    .description('print a sign-in link for a tenant (valid 10 minutes); opening it lets that browser use a private tenant')
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string, opts: { json?: boolean }) => {
      const client = await connect();
      const link = await client.json('POST', `/api/tenants/${slug}/open`, (A) => A.SignInLinkSchema);
      show(opts, link, () => `${link.url}\n`);
    });
  json(program.command('stop'))
    .description("stop a tenant's container now")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string, opts: { json?: boolean }) => {
      const client = await connect();
      const t = await client.json('POST', `/api/tenants/${slug}/stop`, (A) => A.TenantViewSchema);
      show(opts, t, () => statusText(t));
    });
  json(program.command('status'))
    .description('show a tenant: state and why, settings, holds, last start and stop, image (all tenants without a slug)')
    .argument('[slug]', 'the tenant', slugArg)
    .action(async (slug: string | undefined, opts: { json?: boolean }) => {
      const client = await connect();
      if (!slug) {
        const { tenants: list } = await client.json('GET', '/api/tenants', (A) => A.TenantListSchema);
        return show(opts, list, () => tenantTable(list));
      }
      const t = await client.json('GET', `/api/tenants/${slug}`, (A) => A.TenantViewSchema);
      show(opts, t, () => statusText(t));
    });
  json(program.command('send'))
    .description('send a chat message to a tenant (waking it) and print the reply when it comes')
    .argument('<slug>', 'the tenant', slugArg)
    .argument('<text>', 'the message')
    .option('--session <id>', 'the conversation: 1-64 letters, digits, _ or -', 'cli')
    .option('--id <id>', 'your id for the message: sending again with the same id does not send twice')
    .option('--timeout <duration>', 'how long to wait for the reply', '5m')
    .action(async (slug: string, text: string, opts: { session: string; id?: string; timeout: string; json?: boolean }) => {
      const limit = parseDuration(opts.timeout);
      if (limit === undefined) throw new CliError(EXIT.usage, `--timeout ${opts.timeout} is not a duration like 30s or 5m`);
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
      if (opts.json) print(message);
      if (message.state === 'done') return opts.json ? undefined : print(`${message.reply ?? ''}\n`);
      if (message.state === 'failed') throw new CliError(EXIT.tenantFailed, `message ${message.id} failed: ${message.reason}`);
      throw new CliError(EXIT.tenantFailed, `no reply within ${opts.timeout}; it is still ${message.state}: \`napbox status ${slug}\``);
    });

  json(program.command('retry'))
    .description('deliver a failed message again, its tries starting over (the tenant is woken for it)')
    .argument('<slug>', 'the tenant', slugArg)
    .argument('<id>', 'the message id (m_...), as `napbox send` or the API printed it')
    .action(async (slug: string, id: string, opts: { json?: boolean }) => {
      const client = await connect();
      const message = await client.json('POST', `/api/tenants/${slug}/messages/${encodeURIComponent(id)}/retry`, (A) => A.MessageViewSchema);
      show(opts, message, () => `${message.id} is ${message.state} again\n`);
    });

  const packages = program.command('packages').description("a tenant's apt and npm packages, built into its own image");
  const listsOf = (opts: { apt?: string[]; npm?: string[] }) => ({ apt: opts.apt ?? [], npm: opts.npm ?? [] });
  const change = (verb: 'add' | 'rm') =>
    json(packages.command(verb))
      .description(verb === 'add' ? 'add packages and build the image (the tenant uses it from its next start)' : 'remove packages and build the image')
      .argument('<slug>', 'the tenant', slugArg)
      .option('--apt <names...>', 'Debian packages, like jq or curl')
      .option('--npm <names...>', 'npm packages, like is-odd or @scope/name@^1')
      .option('--now', 'restart the tenant on the new image as soon as it is ready')
      .action(async (slug: string, opts: { apt?: string[]; npm?: string[]; now?: boolean; json?: boolean }) => {
        const client = await connect();
        const current = await client.json('GET', `/api/tenants/${slug}/packages`, (A) => A.PackagesSchema);
        const delta = listsOf(opts);
        // The same merge the package grammar defines (a new version replaces the old entry: jq -> jq=1.6), checked before anything is sent.
        const { addPackages, removePackages } = await import('../images/packages.js');
        let next: { readonly apt: readonly string[]; readonly npm: readonly string[] };
        try {
          next = verb === 'add' ? addPackages(current, delta) : removePackages(current, delta);
        } catch (err) {
          throw new CliError(EXIT.usage, asNapboxError(err).message, { cause: err });
        }
        const build = await client.json('PUT', `/api/tenants/${slug}/packages${opts.now ? '?apply=now' : ''}`, (A) => A.BuildViewSchema, next);
        show(opts, build, () =>
          table([
            ['apt', next.apt.join(' ') || '-'],
            ['npm', next.npm.join(' ') || '-'],
            ['build', `${buildLine(build)} (follow it with \`napbox build ${slug}\`)`],
          ]),
        );
      });
  change('add');
  change('rm');
  json(packages.command('list'))
    .description("show the tenant's package lists, image and latest build")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string, opts: { json?: boolean }) => {
      const client = await connect();
      const p = await client.json('GET', `/api/tenants/${slug}/packages`, (A) => A.PackagesSchema);
      show(opts, p, () => packagesText(p));
    });
  json(program.command('build'))
    .description("stream the log of the tenant's latest image build, live, until it ends (--json: the build and its log so far, without waiting)")
    .argument('<slug>', 'the tenant', slugArg)
    .action(async (slug: string, opts: { json?: boolean }) => {
      const client = await connect();
      const { build } = await client.json('GET', `/api/tenants/${slug}/packages`, (A) => A.PackagesSchema);
      if (!build) {
        if (opts.json) return print(null);
        return print(`${slug} has no builds: add packages with \`napbox packages add ${slug} --apt jq\`\n`);
      }
      if (opts.json) return print(await client.json('GET', `/api/builds/${build.id}`, (A) => A.BuildWithLogSchema));
      if ((await printStream(await client.stream(`/api/builds/${build.id}/log?follow=1`))) === undefined) {
        throw new CliError(EXIT.unreachable, 'napbox ended the build log: it stopped or restarted');
      }
      const final = await client.json('GET', `/api/builds/${build.id}`, (A) => A.BuildWithLogSchema);
      if (final.state === 'failed') throw new CliError(EXIT.tenantFailed, `build ${build.id} failed: ${final.error ?? 'see the log above'}`);
    });
  json(program.command('images').description('manage tenant images').command('prune'))
    .description(
      "remove this install's tenant images no tenant uses (each tenant's current and previous image are kept), and its older agent and base images nothing is built on",
    )
    .action(async (opts: { json?: boolean }) => {
      const client = await connect();
      const report = await client.json('POST', '/api/images/prune', (A) => A.PruneReportSchema);
      show(opts, report, () => pruneText(report));
    });

  program
    .command('logs')
    .description("print a tenant's container logs (text, as the API gives it; no --json)")
    .argument('<slug>', 'the tenant', slugArg)
    .option('--tail <lines>', 'how many of the last lines', '200')
    .option('-f, --follow', 'keep printing new output as it comes, across its sleeps and wakes, until Ctrl-C')
    .action(async (slug: string, opts: { tail: string; follow?: boolean }) => {
      const client = await connect();
      const res = await client.stream(`/api/tenants/${slug}/logs?tail=${encodeURIComponent(opts.tail)}${opts.follow ? '&follow=1' : ''}`);
      const last = await printStream(res);
      // A followed stream ends only when the tenant is removed (the server says so) or when napbox stops.
      if (opts.follow && !last?.endsWith(`-- ${slug} removed --\n`)) {
        throw new CliError(EXIT.unreachable, 'napbox ended the log stream: it stopped or restarted');
      }
    });
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const { exitCode, message } = failureOf(err);
    // The reason on the first line; what the server adds below it (a failed wake's last log lines) indented.
    const [reason, ...details] = message.trimEnd().split('\n');
    if (message) process.stderr.write(`napbox: ${reason}\n${details.map((d) => `  ${d}\n`).join('')}`);
    process.exit(exitCode);
  });
