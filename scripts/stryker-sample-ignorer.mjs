// A StrykerJS ignorer, "sample": with MUTATE_SAMPLE_FILE set (scripts/mutate.mjs --sample), Stryker
// makes only the sampled mutants (and the few that share a drawn mutant's span or lie between two
// drawn ones: the test runner skips those, scripts/stryker-jest-by-file.mjs), not every mutant
// inside a drawn mutant's `--mutate` span. The file's `spans` are the wanted locations per source
// file (lines and columns from 0, as Stryker's instrumenter gives them).
import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin';
import { readFileSync } from 'node:fs';
import { keepsNode, NOT_DRAWN, sampleFileOf } from './mutate-sample.mjs';

const FILE = process.env.MUTATE_SAMPLE_FILE;
/** @type {Record<string, import('./mutate-sample.mjs').Location[]>} */
const wanted = FILE ? JSON.parse(readFileSync(FILE, 'utf8')).spans : {};

/** @param {string} fileName an absolute path (the checkout's or the sandbox's) */
const wantedIn = (fileName) => {
  const file = sampleFileOf(fileName, Object.keys(wanted));
  return file === undefined ? undefined : wanted[file];
};

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'sample', {
    /** @param {any} path a Babel NodePath */
    shouldIgnore(path) {
      const loc = path.node?.loc;
      const fileName = path.hub?.file?.opts?.filename;
      if (!FILE || !loc || typeof fileName !== 'string') return undefined;
      const locations = wantedIn(fileName);
      if (locations === undefined || keepsNode(loc, locations)) return undefined;
      return NOT_DRAWN;
    },
  }),
];
