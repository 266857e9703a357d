import type { Framework } from './framework.js';
import type { Logger } from './framework.js';
import type { Model } from './model.js';

/**
 * Base of every charm. Subclasses register observers in their constructor:
 *
 *   constructor(framework: Framework) {
 *     super(framework);
 *     framework.observe('config-changed', () => this.onConfigChanged());
 *   }
 */
export abstract class CharmBase {
  constructor(readonly framework: Framework) {}

  get model(): Model {
    return this.framework.model;
  }
  get log(): Logger {
    return this.framework.log;
  }
}

export type CharmClass = new (framework: Framework) => CharmBase;
