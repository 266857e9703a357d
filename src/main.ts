import { main } from './ops/index.js';
import { VrfHostCharm } from './charm.js';

void main(VrfHostCharm);
