// One prober/listener process of lib/probeloop.mjs, started inside a network namespace with
// `ip netns exec NS node probeloop.guest.mjs JOB_JSON`. JOB: {listen?: number[], probes?: [{name,
// target, port}], everyMs, timeoutMs}. Listens (accepting and closing every connection) on each
// `listen` port of 0.0.0.0, then every `everyMs` starts one TCP connect per probe and prints one
// line per finished attempt: `P name startMs ok|fail ms [error]` (startMs = Date.now() at the
// attempt's start). Prints `READY` once listening and probing. Ends on SIGTERM or stdin EOF.
import net from 'node:net';

/** @type {{ listen?: number[], probes?: { name: string, target: string, port: number }[], everyMs?: number,
 *   timeoutMs?: number }} written by lib/probeloop.mjs */
const job = JSON.parse(process.argv[2] ?? '{}');
const everyMs = job.everyMs ?? 200;
const timeoutMs = job.timeoutMs ?? 1000;
/** @param {string} line */
const out = (line) => process.stdout.write(`${line}\n`);

/** @type {net.Server[]} */
const servers = [];
for (const port of job.listen ?? []) {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.end();
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port, host: '0.0.0.0', backlog: 512 }, () => resolve(undefined));
  });
  servers.push(srv);
}

/** @param {{ name: string, target: string, port: number }} p */
function attempt(p) {
  const start = Date.now();
  let done = false;
  const sock = net.connect({ host: p.target, port: p.port });
  /**
   * @param {boolean} ok
   * @param {string} [err]
   */
  const finish = (ok, err) => {
    if (done) return;
    done = true;
    globalThis.clearTimeout(timer);
    sock.destroy();
    out(`P ${p.name} ${start} ${ok ? 'ok' : 'fail'} ${Date.now() - start}${err ? ` ${err}` : ''}`);
  };
  const timer = globalThis.setTimeout(() => finish(false, 'timeout'), timeoutMs);
  sock.once('connect', () => finish(true));
  sock.once('error', (/** @type {NodeJS.ErrnoException} */ e) => finish(false, e.code ?? e.message));
}

const timers = (job.probes ?? []).map((p) => globalThis.setInterval(() => attempt(p), everyMs));
out('READY');
const stop = () => {
  for (const t of timers) globalThis.clearInterval(t);
  for (const s of servers) s.close();
  globalThis.setTimeout(() => process.exit(0), timeoutMs + 50).unref();
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
