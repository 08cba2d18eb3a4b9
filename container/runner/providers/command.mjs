// The command provider: runs the configured argv once per message, with the
// message text on stdin, in the session's folder. Invariants:
// - No shell is involved unless argv[0] is one; the argv is passed as is.
// - The command's environment is the runner's minus its secrets, plus
//   NAPBOX_SESSION and NAPBOX_MESSAGE_ID. (It runs as the same user as the
//   runner, so this keeps the secrets out of its reach by accident, not
//   against a hostile command.)
// - The command runs in its own process group, and the whole group is killed
//   when it ends, times out, overflows or the runner stops: no message leaves
//   processes behind (the container's pids limit is small).
// - stdout is streamed as progress chunks, split on UTF-8 character
//   boundaries, and their concatenation is the reply.

import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { ProviderError } from './provider-error.mjs';

const STDERR_TAIL_CHARS = 2000;

export function commandProvider(config, { childEnv, maxReplyBytes, killGraceMs = 2000 }) {
  return {
    kind: 'command',
    run: (request) => runCommand(config, request, { childEnv, maxReplyBytes, killGraceMs }),
  };
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

function runCommand({ command, timeoutMs }, { id, session, text, cwd, signal, onProgress }, { childEnv, maxReplyBytes, killGraceMs }) {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command;
    const child = spawn(file, args, {
      cwd,
      env: { ...childEnv, NAPBOX_SESSION: session, NAPBOX_MESSAGE_ID: id },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own process group, so it can be killed whole
    });

    const decoder = new StringDecoder('utf8');
    let reply = '';
    let replyBytes = 0;
    let stderrTail = '';
    let failure;
    let killTimer;
    let settled = false;

    const stop = (error) => {
      if (failure) return;
      failure = error;
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), killGraceMs);
    };
    const timer = setTimeout(
      () => stop(new ProviderError(`the command did not finish within ${timeoutMs} ms and was stopped`, { retryable: true })),
      timeoutMs,
    );
    const onAbort = () => stop(new ProviderError('the runner stopped while the command ran', { retryable: true }));
    signal.addEventListener('abort', onAbort, { once: true });

    const settle = (fn) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) killGroup(child, 'SIGKILL');
      fn();
    };

    child.stdin.on('error', () => {
      // EPIPE: a command that does not read its input is fine
    });
    child.stdin.end(text);

    child.stdout.on('data', (chunk) => {
      if (failure) return;
      replyBytes += chunk.length;
      if (replyBytes > maxReplyBytes) {
        stop(new ProviderError(`the command wrote more than ${maxReplyBytes} bytes to stdout; it was stopped`, { retryable: false }));
        return;
      }
      const piece = decoder.write(chunk);
      if (piece) {
        reply += piece;
        onProgress(piece);
      }
    });
    child.stderr.on('data', (chunk) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });

    child.once('error', (err) => {
      settle(() =>
        reject(new ProviderError(`could not start the command ${JSON.stringify(file)}: ${err.code ?? err.message}`, { retryable: false, cause: err })),
      );
    });
    child.once('close', (code, killedBy) => {
      settle(() => {
        if (failure) return reject(failure);
        const rest = decoder.end();
        if (rest) {
          reply += rest;
          onProgress(rest);
        }
        if (code === 0) return resolve(reply);
        const how = code === null ? `was killed by ${killedBy}` : `exited with code ${code}`;
        const tail = stderrTail.trim();
        reject(new ProviderError(`the command ${how}${tail ? `; stderr: ${tail}` : ''}`, { retryable: true }));
      });
    });
  });
}
