/**
 * The model's own meaning: `decide()` and the one resolver of identities, ports and paths that every
 * consumer of the model shares.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { decide } from '../model/decide';
import { MODEL_VERSION, pathMatchOf, pathText, type PolicyModel, type ServiceModel } from '../model/model';
import { compareStrings } from '../model/compare';
import { grpcAdmitsMethods, portNumbers, rulesByDestination, sameIdentity, serviceIdentity, sourceIdentity } from '../model/resolve';

function service(name: string, port: number, serviceAccount = name): ServiceModel {
  return {
    id: `shop/${name}`,
    namespace: 'shop',
    name,
    serviceAccount,
    selector: { app: name },
    ports: [{ name: 'http', port, protocol: 'http' }],
  };
}

function model(services: readonly ServiceModel[], rules: PolicyModel['rules'] = []): PolicyModel {
  return {
    version: MODEL_VERSION,
    entry: 'policy.ts',
    mesh: { trustDomain: 'cluster.local', mtls: 'STRICT', defaultAction: 'deny', rootNamespace: 'istio-system' },
    namespaces: [{ name: 'shop' }],
    services,
    rules,
  };
}

describe('decide', () => {
  it('GIVEN a service declared twice with different ports WHEN decide() builds its own service map THEN it uses the first declaration, as the rules and the targets do', () => {
    // The validator reports the duplicate; every consumer must still agree on which declaration counts.
    const first = service('web', 8080);
    const second = service('web', 9090);
    const rule = { id: 'r1', action: 'allow' as const, sources: [{ kind: 'anyone' as const }], destination: 'shop/web', ports: ['http'] };
    const m = model([first, second], [rule]);
    const request = { client: { kind: 'plaintext' as const, ip: '192.0.2.10' }, destination: 'shop/web', port: 8080, method: 'GET' as const, path: '/' };
    const decision = decide({ ...m, mesh: { ...m.mesh, mtls: 'PERMISSIVE' } }, request);
    assert.equal(decision.allowed, true, decision.reason);
    const onSecond = decide({ ...m, mesh: { ...m.mesh, mtls: 'PERMISSIVE' } }, { ...request, port: 9090 });
    assert.equal(onSecond.allowed, false);
    assert.match(onSecond.reason, /not a declared port/);
  });
});

describe('resolve', () => {
  const m = model([service('web', 8080), service('api', 9090, 'api-sa')]);

  it('GIVEN sources WHEN their identity is resolved THEN a service names its account, an identity itself, and other sources none', () => {
    const services = new Map(m.services.map((s) => [s.id, s]));
    assert.deepEqual(serviceIdentity(m.services[1] as ServiceModel), { namespace: 'shop', serviceAccount: 'api-sa' });
    assert.deepEqual(sourceIdentity({ kind: 'service', service: 'shop/api' }, services), { namespace: 'shop', serviceAccount: 'api-sa' });
    assert.equal(sourceIdentity({ kind: 'service', service: 'shop/nope' }, services), undefined);
    assert.equal(sourceIdentity({ kind: 'namespace', namespace: 'shop' }, services), undefined);
    assert.ok(
      sameIdentity(sourceIdentity({ kind: 'identity', namespace: 'shop', serviceAccount: 'api-sa' }, services), serviceIdentity(m.services[1] as ServiceModel)),
    );
    assert.ok(!sameIdentity(undefined, undefined));
  });

  it('GIVEN port names of a destination WHEN resolved THEN they become sorted numbers and unknown names are dropped', () => {
    assert.deepEqual(portNumbers(service('web', 8080), ['nope', 'http']), [8080]);
  });

  it('GIVEN path matches WHEN written as text THEN a prefix ends in * and an exact path is itself', () => {
    assert.equal(pathText({ kind: 'prefix', value: '/api/' }), '/api/*');
    assert.equal(pathText({ kind: 'exact', value: '/api' }), '/api');
    for (const text of ['/api/*', '/api', '/']) assert.equal(pathText(pathMatchOf(text)), text);
  });

  it('GIVEN method lists WHEN asked whether a gRPC port can see them THEN only lists with POST (or no list) can', () => {
    assert.equal(grpcAdmitsMethods(undefined), true);
    assert.equal(grpcAdmitsMethods(['GET', 'POST']), true);
    assert.equal(grpcAdmitsMethods(['GET']), false);
  });

  it('GIVEN rules of two destinations WHEN grouped THEN each destination gets its own rules in model order', () => {
    const rule = (id: string, destination: string) => ({ id, action: 'allow' as const, sources: [], destination, ports: [] });
    const grouped = rulesByDestination([rule('a', 'shop/web'), rule('b', 'shop/api'), rule('c', 'shop/web')]);
    assert.deepEqual(
      [...grouped].map(([d, rs]) => [d, rs.map((r) => r.id)]),
      [
        ['shop/web', ['a', 'c']],
        ['shop/api', ['b']],
      ],
    );
  });

  it('GIVEN strings that differ in case and length WHEN compared THEN the order is by code unit, whatever the locale', () => {
    assert.deepEqual(['b', 'B', 'a', 'ab', 'A'].sort(compareStrings), ['A', 'B', 'a', 'ab', 'b']);
  });
});
