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

/**
 * Whole lines out of text that arrives in pieces. A build step's output comes
 * as the container wrote it, not a line at a time: apt writes `E: ` and the
 * rest of its error in two writes, which the engine may send as two events.
 */
class LineJoiner {
  private pending = '';

  /** The lines this piece completes. */
  push(piece: string): string[] {
    const parts = (this.pending + piece).split('\n');
    this.pending = parts.pop() ?? '';
    return parts.map((line) => line.replace(/\r$/, ''));
  }

  /** What is left once the stream ends: a last line with no newline. */
  flush(): string[] {
    const rest = this.pending.replace(/\r$/, '');
    this.pending = '';
    return rest === '' ? [] : [rest];
  }
}

/** Follows an engine progress stream; rejects on the first error message in it. */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, onLog?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    const output = new LineJoiner();
    const log = (lines: string[]): void => {
      if (onLog) for (const line of lines) if (line.trim()) onLog(line);
    };
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        log(output.flush());
        if (err) reject(err);
        else if (failure !== undefined) reject(new NapboxError('engine_error', failure));
        else resolve();
      },
      (event: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string } }) => {
        if (event.stream !== undefined) {
          log(output.push(event.stream));
          return;
        }
        // a status or an error is a whole message: what a step printed before it is over
        log(output.flush());
        if (event.error) failure = event.errorDetail?.message ?? event.error;
        const text = event.status ?? event.error;
        if (text) log(text.split('\n').map((line) => line.replace(/\r$/, '')));
      },
    );
  });
}
