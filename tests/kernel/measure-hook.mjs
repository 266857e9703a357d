#!/usr/bin/env node
// Host side: boot the kernel once, run measure-hook.guest.mjs (where a charm hook's time goes),
// and summarise the --cpu-prof profiles of every Node process the hooks started.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKernelJob } from '../../scripts/vm/run.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The parts of a V8 .cpuprofile read here.
 * @typedef {{ id: number, callFrame?: { url?: string, functionName?: string, lineNumber?: number } }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} CpuProfile
 */

/**
 * Self time (ms) by bucket and by function for one .cpuprofile.
 * @param {CpuProfile} prof
 */
export function summariseProfile(prof) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const self = new Map();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000));
  /** @type {Record<string, number>} */
  const buckets = {};
  /** @type {Record<string, number>} */
  const fns = {};
  for (const [id, ms] of self) {
    const cf = byId.get(id)?.callFrame ?? {};
    const url = cf.url ?? '';
    const bucket =
      url === '' ? cf.functionName || '(native)' : url.startsWith('node:') ? 'node internals' : path.basename(url);
    buckets[bucket] = (buckets[bucket] ?? 0) + ms;
    const fn = `${cf.functionName || '(anonymous)'} ${path.basename(url)}:${cf.lineNumber}`;
    fns[fn] = (fns[fn] ?? 0) + ms;
  }
  return { durationMs: (prof.endTime - prof.startTime) / 1000, buckets, fns };
}

/** @param {Record<string, number>} o */
const round = (o) =>
  Object.fromEntries(
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, Math.round(v)]),
  );

if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = Date.now();
  const r = await runKernelJob({
    script: path.join(here, 'measure-hook.guest.mjs'),
    args: [],
    env: Object.fromEntries(
      Object.entries(process.env).flatMap(([k, v]) => (k.startsWith('VRF_HOST_') && v !== undefined ? [[k, v]] : [])),
    ),
    timeoutMs: 30 * 60_000,
    log: console.error,
  });
  console.log(r.log);
  for (const d of readdirSync(r.resultsDir)
    .filter((x) => x.startsWith('prof-'))
    .sort()) {
    const dir = path.join(r.resultsDir, d);
    const profs = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    console.log(`${d}: ${profs.length} Node process(es) profiled`);
    for (const f of profs) {
      const s = summariseProfile(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
      const top = Object.entries(round(s.fns))
        .slice(0, 6)
        .map(([k, v]) => `${k} ${v}`)
        .join('; ');
      console.log(
        `  ${f}: profiled ${Math.round(s.durationMs)} ms; self by file ${JSON.stringify(round(s.buckets))}\n    top: ${top}`,
      );
    }
  }
  console.log(
    `mode ${r.mode}; boot ${r.timings.bootMs} ms; whole run ${Date.now() - t0} ms; exit ${r.exitCode}; host loadavg` +
      ` ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
  process.exit(r.exitCode === 0 ? 0 : 1);
}
