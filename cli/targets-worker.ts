/** A `policyc build` target worker thread (compiler/parallel-targets.ts), with the targets of the mesh registry. */
import { workerData } from 'node:worker_threads';
import { targets } from '../meshes';
import { serveTargets } from '../compiler/parallel-targets';

serveTargets(workerData, targets);
