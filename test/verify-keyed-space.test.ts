/**
 * The keyed request space (one client and one operation — method, path, headers, token — per combination of the
 * model's and every simulator's keys, `spaceOf`) finds every mistake the exhaustive space (every client × every
 * operation, `everyClient`) finds. Mistakes are planted in the rendered output of random models, one per class of
 * mutation (test/fuzz/planted-mistakes.ts), and both spaces judge the same mutated objects.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compiledTargets } from './fuzz/fuzz';
import { MUTATION_CLASSES, plantMistake, seededRandom, type MutationClass } from './fuzz/planted-mistakes';
import { policyModelArbitrary } from './fuzz/random-model';
import { spaceOf, verifyTargets, type SimulatedTarget } from '../verify/compare';
import type { PolicyModel } from '../model/model';
import { createIstioSimulator } from '../verify/istio';
import type { ManifestObject, SimulatedOperation, SimulatedRequest, Workload } from '../verify/simulator';

const SEED = 777;
const MODELS = 40;
/** Mutated outputs whose exhaustive space is larger are skipped: the exhaustive check is what the keyed one replaces. */
const EXHAUSTIVE_CAP = 20_000;

function exhaustiveSize(model: PolicyModel, targets: readonly SimulatedTarget[]): number {
  let size = 0;
  for (const _ of spaceOf(model, targets, { everyClient: true })) if (++size > EXHAUSTIVE_CAP) break;
  return size;
}

describe('keyed request space', () => {
  it(`finds every planted mistake the exhaustive space finds (${MODELS} random models, seed ${SEED}, each class of mutation)`, () => {
    const random = seededRandom(SEED);
    const missed: string[] = [];
    const found = new Map<MutationClass, number>(MUTATION_CLASSES.map((k) => [k, 0]));
    let judged = 0;
    fc.sample(policyModelArbitrary, { seed: SEED, numRuns: MODELS }).forEach((model, index) => {
      for (const target of compiledTargets(model)) {
        // The unmutated output agrees with the model (the fuzz's own property): a mismatch below is the planted one.
        expect(verifyTargets(model, [target]).get(target.name)?.differing).toBe(0);
        for (const kind of MUTATION_CLASSES) {
          const planted = plantMistake(target.objects, kind, random);
          if (planted === undefined) continue;
          const mutated = [{ ...target, objects: planted.objects }];
          if (exhaustiveSize(model, mutated) > EXHAUSTIVE_CAP) continue;
          judged++;
          const keyed = verifyTargets(model, mutated).get(target.name)?.differing ?? 0;
          if (keyed > 0) {
            found.set(kind, (found.get(kind) ?? 0) + 1);
            continue;
          }
          const exhaustive = verifyTargets(model, mutated, { everyClient: true }).get(target.name)?.differing ?? 0;
          if (exhaustive > 0) missed.push(`model ${index}, ${target.name}, ${planted.describe}: exhaustive ${exhaustive} mismatches, keyed none`);
        }
      }
    });
    expect(missed).toEqual([]);
    // Not vacuous: many mutated outputs were judged, and each class of mutation was caught at least once.
    expect(judged).toBeGreaterThan(60);
    for (const kind of MUTATION_CLASSES) expect([kind, found.get(kind)]).not.toEqual([kind, 0]);
  });

  it('Istio keys a source that names both a peer principal and a request principal on both sides: the peer in clientKey, the token in operationKey', () => {
    // A source's fields are AND'ed (istio.io/latest/docs/reference/config/security/authorization-policy/ Source): only
    // the workload api-sa with a token of the issuer matches. Keying the source on the client side alone (with no token)
    // would give api-sa and web the same client key, and one of them would stand for the other.
    const istio = createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
    const pay: Workload = {
      namespace: 'billing',
      name: 'pay',
      serviceAccount: 'pay',
      labels: { app: 'pay' },
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
    };
    const issuer = 'https://idp.example';
    const objects: ManifestObject[] = [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'RequestAuthentication',
        metadata: { name: 'jwt', namespace: 'billing' },
        spec: { selector: { matchLabels: { app: 'pay' } }, jwtRules: [{ issuer, jwksUri: `${issuer}/jwks.json` }] },
      },
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'pay-allow', namespace: 'billing' },
        spec: {
          selector: { matchLabels: { app: 'pay' } },
          action: 'ALLOW',
          rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api-sa'], requestPrincipals: [`${issuer}/*`] } }] }],
        },
      },
    ];
    const clients: SimulatedRequest['client'][] = [
      { ip: '10.0.0.1', identity: { namespace: 'shop', serviceAccount: 'api-sa' } },
      { ip: '10.0.0.2', identity: { namespace: 'shop', serviceAccount: 'web' } },
    ];
    const operations: SimulatedOperation[] = [
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/', jwt: { iss: issuer, sub: 'alice', claims: {}, signedByIssuer: true } },
    ];
    const verdicts = new Map<string, string[]>();
    for (const client of clients) {
      for (const operation of operations) {
        const key = `${istio.clientKey(objects, pay, 8080, client)} ${istio.operationKey(objects, pay, 8080, operation)}`;
        const verdict = istio.decide(objects, { client, destination: pay, port: 8080, ...operation }).verdict;
        verdicts.set(key, [...(verdicts.get(key) ?? []), verdict]);
      }
    }
    // Each pair of keys stands for requests decided alike, and the one allowed request has keys of its own.
    for (const [key, seen] of verdicts) expect([key, new Set(seen).size]).toEqual([key, 1]);
    expect([...verdicts.values()].flat().sort()).toEqual(['allow', 'deny', 'deny', 'deny']);
  });
});
