/**
 * `policyc verify` as a library: for each target of a build, simulate the mesh from the rendered YAML and
 * compare with the model on the whole request space; report each difference as a diagnostic at the rule
 * that decides it (or the destination), naming the emitted objects involved.
 */
import type { CompileResult } from '../compiler/compile';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import type { PolicyModel } from '../model/model';
import type { SourceStore } from '../compiler/sources';
import { checkAssertions, describeFailure } from './assertions';
import type { ManifestObject, MeshSimulator } from './simulator';
import { describeRequest, manifestsFromFiles, modelDecisions, verify, type VerificationResult } from './compare';

export interface TargetVerification {
  readonly target: string;
  readonly result?: VerificationResult;
}

/** How many mismatches are printed per target; the count says how many there were. */
const SHOWN = 20;

/** The simulator that checks a target's output (the mesh registry's), configured from the model's mesh settings. */
export type SimulatorOf = (targetName: string, settings: PolicyModel['mesh']) => MeshSimulator | undefined;

export function verifyBuild(result: CompileResult, simulatorFor: SimulatorOf): { readonly diagnostics: Diagnostic[]; readonly targets: TargetVerification[] } {
  const model = result.model;
  const diagnostics: Diagnostic[] = [];
  const targets: TargetVerification[] = [];
  if (model === undefined) return { diagnostics, targets };
  const simulated: { name: string; objects: readonly ManifestObject[]; simulator: MeshSimulator }[] = [];
  const decisions = modelDecisions(model);
  for (const [target, files] of result.outputs) {
    const simulator = simulatorFor(target, model.mesh);
    if (simulator === undefined) {
      targets.push({ target });
      continue;
    }
    const objects = manifestsFromFiles(files);
    simulated.push({ name: target, objects, simulator });
    const verification = verify(model, objects, simulator, decisions);
    targets.push({ target, result: verification });
    diagnostics.push(...verificationDiagnostics(target, model, verification, result.store));
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
  if (verification.mismatches.length > SHOWN) {
    out.push(diagnostic('verification-mismatch', `${target}: ${verification.mismatches.length - SHOWN} more requests differ.`));
  }
  if (verification.unsupported.length > 0) {
    const reasons = [...new Set(verification.unsupported.map((u) => u.reason))].slice(0, 3).join('; ');
    out.push(
      diagnostic(
        'verification-unsupported',
        `${target}: ${verification.unsupported.length} of ${verification.checked} requests could not be simulated (${reasons}), so they are not verified.`,
      ),
    );
  }
  return out;
}
