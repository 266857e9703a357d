/**
 * Placeholder charm: proves the dispatch path end to end. The charm issue
 * replaces it with the real glue to the VRF engine.
 */
import { z } from 'zod';
import { CharmBase, Status, type Framework } from './ops/index.js';

const ShowVrfsParams = z.object({ routes: z.boolean().default(false) }).strict();

export class VrfHostCharm extends CharmBase {
  private lastEvent = '';

  constructor(framework: Framework) {
    super(framework);
    for (const name of ['install', 'config-changed', 'start', 'update-status', 'stop', 'remove'] as const) {
      framework.observe(name, async (event) => {
        this.lastEvent = event.name;
        await this.log.info(`vrf-host placeholder handled ${event.name}`);
      });
    }
    framework.observe('collect-status', (event) => {
      event.addStatus(Status.active(this.lastEvent ? `placeholder (last: ${this.lastEvent})` : 'placeholder'));
    });
    framework.observeAction('show-vrfs', ShowVrfsParams, async (event) => {
      await event.setResults({ vrfs: 'none', placeholder: true, routes: event.params.routes });
    });
  }
}
