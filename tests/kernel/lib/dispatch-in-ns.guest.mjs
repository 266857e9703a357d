// Runs ONE hook or action of the unpacked charm under the hook-tool simulator, in whatever network
// namespace this process was started in (lib/charm.mjs starts it with `ip netns exec unit`).
// argv[2] = a JSON request {harness, charmDir, simDir, state, dispatchPath, env, params, timeoutMs};
// prints one JSON line {exitCode, stdout, stderr, record}.
import { pathToFileURL } from 'node:url';

const req = JSON.parse(process.argv[2] ?? '{}');
const { createSimulator, runDispatch } = await import(pathToFileURL(req.harness).href);
const sim = await createSimulator({ dir: req.simDir, state: req.state, fast: req.fast === true });
const res = await runDispatch(req.charmDir, req.dispatchPath, sim, {
  env: req.env ?? {},
  ...(req.params ? { params: req.params } : {}),
  timeout: req.timeoutMs ?? 120_000,
});
process.stdout.write(
  `${JSON.stringify({ exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, record: res.record, state: sim.state() })}\n`,
);
