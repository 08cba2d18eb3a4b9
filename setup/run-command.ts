// Runs a program with an argv array (never a shell string), sending its
// output to a log file, and fails with the log's last lines when it fails.

import { spawn } from 'node:child_process';
import fs from 'node:fs';

export async function runLogged(file: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const fd = fs.openSync(logFile, 'a');
  try {
    fs.writeSync(fd, `\n$ ${[file, ...args].join(' ')}\n`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(file, [...args], { stdio: ['ignore', fd, fd], env });
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${file} ${args.join(' ')} exited with ${code}; the end of ${logFile}:\n${tail}`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

export function onPath(program: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  return dirs.some((dir) => {
    try {
      fs.accessSync(`${dir}/${program}`, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
