/** A `policyc verify` worker thread (verify/parallel.ts), with the simulators of the mesh registry. */
import { workerData } from 'node:worker_threads';
import { simulatorFor } from '../meshes';
import { serveVerification } from '../verify/parallel';

serveVerification(workerData, simulatorFor);
