// Small pieces the Docker driver needs around the engine API: image
// references split into repository and tag, a build context's file list, and
// following an engine progress stream (builds, pulls, imports) to its end.

import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { NapboxError } from '../errors.js';

export function splitTag(tag: string): [string, string] {
  const at = tag.lastIndexOf(':');
  return at > tag.lastIndexOf('/') ? [tag.slice(0, at), tag.slice(at + 1)] : [tag, 'latest'];
}

/** Every file under `dir`, relative to it, for a build context. */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** Follows an engine progress stream; rejects on the first error message in it. */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, onLog?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(err);
        else if (failure !== undefined) reject(new NapboxError('engine_error', failure));
        else resolve();
      },
      (event: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string } }) => {
        if (event.error) failure = event.errorDetail?.message ?? event.error;
        const text = event.stream ?? event.status ?? event.error;
        if (text && onLog) for (const line of text.split('\n')) if (line.trim()) onLog(line.replace(/\r$/, ''));
      },
    );
  });
}
