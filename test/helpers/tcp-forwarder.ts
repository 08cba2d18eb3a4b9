// A TCP listener on 127.0.0.1 that forwards every connection, byte for byte,
// to the local Docker engine's unix socket. Tests use it as a stand-in for a
// dockerd listening on tcp:// (what `dockerd -H tcp://0.0.0.0:2375` or a
// remote machine would be): napbox pointed at it with DOCKER_HOST=tcp://...
// speaks to the engine over TCP only, as it would to a remote one, without
// the test reconfiguring or restarting the shared engine.

import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface TcpForwarder {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** TLS settings for a forwarder that stands in for `dockerd --tlsverify`: it requires a client certificate signed by `ca`. */
export interface ForwarderTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca: Buffer;
}

export async function startTcpForwarder(socketPath: string, tlsOptions?: ForwarderTls): Promise<TcpForwarder> {
  let accepted = 0;
  const open = new Set<net.Socket>();
  const onClient = (client: net.Socket): void => {
    accepted += 1;
    const engine = net.connect(socketPath);
    for (const s of [client, engine]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    client.on('error', () => engine.destroy());
    engine.on('error', () => client.destroy());
    client.pipe(engine).pipe(client);
  };
  const server = tlsOptions ? tls.createServer({ ...tlsOptions, requestCert: true, rejectUnauthorized: true }, onClient) : net.createServer(onClient);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** GET a path of the engine's API on its unix socket, as JSON (for what the driver interface does not show, like Mounts). */
export function engineGet(socketPath: string, apiPath: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: apiPath }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(err);
          }
        });
      })
      .on('error', reject);
  });
}
