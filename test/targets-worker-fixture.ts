/** A target worker thread (compiler/parallel-targets.ts) serving the registry's targets and test/failing-targets.ts's. */
import { workerData } from 'node:worker_threads';
import { serveTargets } from '../compiler/parallel-targets';
import { fixtureTargets } from './failing-targets';

serveTargets(workerData, fixtureTargets);
