/**
 * Runs an example's entry point while its port is taken by another listener: the way a second
 * `npm start` meets the first. Returns how the process ended and what it printed.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runOnTakenPort(script: string, env: Record<string, string> = {}): Promise<Outcome & { port: number }> {
  const blocker = createServer();
  await new Promise<void>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen(0, '127.0.0.1', resolve);
  });
  const port = (blocker.address() as { port: number }).port;
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 20_000); // a process that keeps running is a failure too
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(timer);
    return { code, stdout, stderr, port };
  } finally {
    await new Promise((r) => blocker.close(r));
  }
}
