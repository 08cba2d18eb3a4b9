// HTTP to an ssh:// engine the way Docker's CLI reaches one: `docker system
// dial-stdio` run on the engine's host over SSH, its stdin and stdout carrying
// the engine API. docker-modem does the same but opens a new SSH connection
// (handshake, authentication, a process on the host) for every API request,
// which made a cold start over ssh about 3 times slower than over tcp:// here.
// This agent keeps connections alive instead: one SSH connection per HTTP
// connection, reused for request after request, and unref'd while idle so it
// never keeps a process alive by itself.
//
// ssh2 is the SSH client docker-modem already depends on (pure JavaScript
// here: its optional native crypto addon is not built), loaded from
// docker-modem's own dependencies rather than added as a second copy.

import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client as SshClient, ConnectConfig } from 'ssh2';

const fromModem = createRequire(createRequire(import.meta.url).resolve('docker-modem'));

type SocketLike = Duplex & {
  setKeepAlive?: (...args: unknown[]) => unknown;
  setNoDelay?: (...args: unknown[]) => unknown;
  setTimeout?: (...args: unknown[]) => unknown;
  ref?: () => unknown;
  unref?: () => unknown;
};

export interface SshDialOptions {
  readonly host: string;
  readonly port: number;
  readonly username: string | undefined;
  /** The ssh agent's socket (SSH_AUTH_SOCK); the only way of authenticating. */
  readonly agent: string | undefined;
  /** Decides whether the host key is the engine's (ssh-known-hosts.ts). */
  readonly hostVerifier: (key: Buffer) => boolean;
  /** At most this many connections to the engine at once (each a process on its host). */
  readonly maxConnections?: number;
}

export function sshDialAgent(options: SshDialOptions): http.Agent {
  const { Client } = fromModem('ssh2') as { Client: new () => SshClient };
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxConnections ?? 16 });
  const connect = (callback: (err: Error | null, stream?: Duplex) => void): void => {
    const sock = net.connect(options.port, options.host);
    const client = new Client();
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      sock.destroy();
      callback(err);
    };
    client.once('ready', () => {
      client.exec('docker system dial-stdio', (err, channel) => {
        if (err) return fail(err);
        let stderr = '';
        channel.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-500)));
        channel.once('exit', (code: number | null) => {
          if (code)
            channel.emit(
              'error',
              new Error(`docker system dial-stdio on ${options.host} exited with ${code}: ${stderr.trim() || 'is the docker CLI installed there?'}`),
            );
        });
        channel.once('close', () => client.end());
        // The HTTP agent treats its connections as sockets: keep-alive and timeouts are the SSH connection's business.
        const stream = channel as unknown as SocketLike;
        stream.setKeepAlive = () => stream;
        stream.setNoDelay = () => stream;
        stream.setTimeout = () => stream;
        stream.ref = () => {
          sock.ref();
          return stream;
        };
        stream.unref = () => {
          sock.unref();
          return stream;
        };
        settled = true;
        callback(null, stream);
      });
    });
    client.on('error', fail);
    const config: ConnectConfig = {
      sock,
      host: options.host,
      port: options.port,
      ...(options.username ? { username: options.username } : {}),
      ...(options.agent ? { agent: options.agent } : {}),
      hostVerifier: options.hostVerifier,
      readyTimeout: 10_000,
      keepaliveInterval: 0, // its timer would keep the process alive while connections sit idle (unref'd)
    };
    client.connect(config);
  };
  (agent as unknown as { createConnection: (opts: unknown, cb: (err: Error | null, stream?: Duplex) => void) => undefined }).createConnection = (_opts, cb) => {
    connect(cb);
    return undefined;
  };
  return agent;
}
