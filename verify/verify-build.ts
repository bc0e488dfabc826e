/**
 * `policyc verify` as a library: for the targets of a build, simulate each mesh from the rendered YAML and
 * compare with the model on the request space of every destination port, all targets in one pass; report each difference as a diagnostic at the rule
 * that decides it (or the destination), naming the emitted objects involved.
 */
import type { CompileResult } from '../compiler/compile';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import type { PolicyModel } from '../model/model';
import type { SourceStore } from '../compiler/sources';
import { checkAssertions, describeFailure } from './assertions';
import { describeRequest, type VerificationResult } from './compare';
import { verifyInParallel, type ParallelOptions, type SimulatorOf } from './parallel';

export type { SimulatorOf } from './parallel';

export interface TargetVerification {
  readonly target: string;
  readonly result?: VerificationResult;
}

/** How many mismatches are printed per target; the count says how many there were. */
const SHOWN = 20;

/** `parallel.workerFile`: verify on worker threads too (`verify/parallel.ts`), with the same result; absent, on this thread alone. */
export function verifyBuild(
  result: CompileResult,
  simulatorFor: SimulatorOf,
  parallel: ParallelOptions = {},
): { readonly diagnostics: Diagnostic[]; readonly targets: TargetVerification[] } {
  const model = result.model;
  const diagnostics: Diagnostic[] = [];
  const targets: TargetVerification[] = [];
  if (model === undefined) return { diagnostics, targets };
  const { targets: simulated, results: verified } = verifyInParallel(model, result.outputs, simulatorFor, parallel);
  for (const target of result.outputs.keys()) {
    const verification = verified.get(target);
    targets.push(verification === undefined ? { target } : { target, result: verification });
    if (verification !== undefined) diagnostics.push(...verificationDiagnostics(target, model, verification, result.store));
  }
  for (const failure of checkAssertions(model, simulated)) {
    diagnostics.push(
      diagnostic('assertion-failed', `This assertion does not hold. ${describeFailure(failure)}`, result.store.spanOfLocation(failure.assertion.location)),
    );
  }
  return { diagnostics, targets };
}

/** PC4002 for each difference (the first few), PC4003 when requests could not be simulated. */
export function verificationDiagnostics(target: string, model: PolicyModel, verification: VerificationResult, store: SourceStore): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const mismatch of verification.mismatches.slice(0, SHOWN)) {
    const decidingRule = model.rules.find((r) => r.id === mismatch.rules[0]?.id);
    const destination = model.services.find((s) => s.id === mismatch.request.destination);
    const location = decidingRule?.location ?? destination?.location;
    const objects = mismatch.simulated.objects.length === 0 ? 'no object' : mismatch.simulated.objects.join(', ');
    out.push(
      diagnostic(
        'verification-mismatch',
        `${target}: ${describeRequest(mismatch.request)} is ${mismatch.simulated.verdict === 'allow' ? 'ALLOWED' : 'denied'} by the emitted objects (${mismatch.simulated.reason}; ${objects}) but the policy ${mismatch.expected ? 'allows' : 'denies'} it (${mismatch.modelReason}).${mismatch.overPermissive ? ' This over-permits: do not apply this output.' : ''}`,
        store.spanOfLocation(location),
      ),
    );
  }
  if (verification.differing > SHOWN) {
    out.push(diagnostic('verification-mismatch', `${target}: ${verification.differing - SHOWN} more requests differ.`));
  }
  if (verification.unsimulated > 0) {
    const reasons = [...new Set(verification.unsupported.map((u) => u.reason))].slice(0, 3).join('; ');
    out.push(
      diagnostic(
        'verification-unsupported',
        `${target}: ${verification.unsimulated} of ${verification.checked} requests could not be simulated (${reasons}), so they are not verified.`,
      ),
    );
  }
  return out;
}
