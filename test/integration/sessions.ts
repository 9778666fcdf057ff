// README sessions as tests: the `$ command` lines of a markdown file's ```console blocks, run one
// by one with bash in a folder, and what each printed compared with the lines under it once the
// parts that change from run to run are masked. Deliberately small (issue 13 brings a general
// docs runner). Conventions a session follows:
//   - `$ cd examples/NAME` is skipped: the session runs in a copy of that folder;
//   - a command ending in `&` runs in the background (`ten serve > serve.log 2>&1 &`); the runner
//     then waits for ten serve's /health on the session's port and for its instances to run, and
//     stops it (SIGTERM to its process group) at the end;
//   - port 8080 in a command is the session's free port, and `ten init` gets `--port` for it; in
//     what a command prints, that port is written back as 8080 and the session's folder as
//     `shownDir` (the README shows /home/me/tenement/examples/NAME).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, waitFor } from './harness.ts';

/** One `$ command` and the lines printed under it; `line` is its line in the file (1-based). */
export interface Step { command: string; expected: string; line: number }

/** The steps of every ```console block of `markdown`, in order. */
export function consoleSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  let inBlock = false;
  markdown.split('\n').forEach((text, i) => {
    if (/^```/.test(text)) inBlock = !inBlock && text.trim() === '```console';
    else if (inBlock && text.startsWith('$ ')) steps.push({ command: text.slice(2), expected: '', line: i + 1 });
    else if (inBlock && steps.length > 0) steps[steps.length - 1]!.expected += `${text}\n`;
  });
  return steps;
}

/** `text` with what differs between runs replaced: times, durations, pids (`pid N`, `"pid": N`,
 *  `ten ps`'s PID column), numbers of 4 or more digits (ports), runs of blanks (table columns
 *  sized to them), trailing blanks and blank ends. */
export function masked(text: string): string {
  return text
    .replace(/("pid":\s*|\(pid |\b(?:running|starting|stopped|unhealthy)\s+)\d+/g, '$1N')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?/g, 'TIME')
    .replace(/\b\d\d:\d\d:\d\d\b/g, 'TIME')
    .replace(/\b\d+(\.\d+)?(ms|s|m|h|d)\b/g, 'DUR')
    .replace(/\d{4,}/g, 'N')
    .split('\n').map((l) => l.replace(/[ \t]+/g, ' ').trimEnd()).join('\n').trim();
}

export interface SessionRun {
  /** Per step: the command as run and its output (stdout then stderr, port written back as 8080). */
  results: Array<Step & { ran: string; actual: string; code: number }>;
  /** Stop what the session left in the background. */
  stop(): Promise<void>;
}

/** Runs `steps` in `dir` with `env` (PATH must find `ten`), ten serve on `port`. Each command may
 *  take 60 s; a background ten serve 30 s to be ready. */
export async function runSession(dir: string, steps: Step[], port: number, env: NodeJS.ProcessEnv, shownDir: string): Promise<SessionRun> {
  const background: ChildProcess[] = [];
  const results: SessionRun['results'] = [];
  const stop = async () => {
    await Promise.all(background.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { resolve(); }
    })));
  };
  try {
    for (const step of steps) {
      if (/^cd examples\/[\w-]+$/.test(step.command)) continue;
      let ran = step.command.replaceAll('8080', String(port));
      if (/^ten init\b/.test(ran) && !ran.includes('--port')) ran = ran.replace(/^ten init\b/, `ten init --port ${port}`);
      if (ran.endsWith('&')) {
        const child = spawn('bash', ['-c', `exec ${ran.slice(0, -1).trim()}`], { cwd: dir, env, detached: true, stdio: 'ignore' });
        background.push(child);
        await ready(dir, port, child);
        results.push({ ...step, ran, actual: '', code: 0 });
        continue;
      }
      const r = await run(ran, dir, env);
      results.push({ ...step, ran, code: r.code, actual: (r.stdout + r.stderr).replaceAll(dir, shownDir).replaceAll(String(port), '8080') });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { results, stop };
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }); });
  });
}

/** ten serve answers /health on `port` and every instance it knows is running. */
async function ready(dir: string, port: number, child: ChildProcess): Promise<void> {
  await waitFor(`ten serve on port ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`the background command exited with ${child.exitCode}`);
    return request(port, 'localhost', '/health').then((r) => r.status === 200, () => false);
  }, 30_000);
  const token = readFileSync(join(dir, 'tenement-data/api_token'), 'utf8').trim();
  await waitFor('its instances running', async () => {
    const r = await request(port, 'localhost', '/api/instances', { headers: { authorization: `Bearer ${token}` } });
    const list = r.json().instances as Array<{ state: string }>;
    return list.every((i) => i.state === 'running');
  }, 30_000);
}
