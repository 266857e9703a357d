// A StrykerJS reporter, "mutant-log": one line per tested mutant that was not detected (survived,
// no coverage), appended to .cache/stryker/undetected.log as soon as the mutant is done, so that
// survivors can be triaged while a long chunk still runs (the json report comes at its end). The
// location is the report's: line and column from 1.
import { declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

// Resolved at load, in Stryker's own working directory (the checkout, not the sandbox).
const LOG = path.resolve('.cache/stryker/undetected.log');

class MutantLogReporter {
  /** @param {import('@stryker-mutator/api/core').MutantResult} m */
  onMutantTested(m) {
    if (m.status !== 'Survived' && m.status !== 'NoCoverage') return;
    const where = `${path.relative(process.cwd(), m.fileName)}:${m.location.start.line}:${m.location.start.column}`;
    mkdirSync(path.dirname(LOG), { recursive: true });
    appendFileSync(LOG, `${where} ${m.status} ${m.mutatorName} => ${JSON.stringify(m.replacement)}\n`);
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'mutant-log', MutantLogReporter)];
