// data/server.json: where the running napbox listens, for the CLI. Its own
// module so the CLI can read it without loading the server.

export interface ServerFile {
  readonly url: string;
  readonly pid: number;
  readonly installId: string;
  readonly baseDomain: string;
  readonly port: number;
}

export const SERVER_FILE = 'server.json';
