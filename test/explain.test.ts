/**
 * `policyc explain` and `policyc matrix` on the shop example: the answers a reviewer would check by hand.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { EXAMPLES, runCli } from './helpers';

const shop = path.join(EXAMPLES, 'shop');

describe('explain', () => {
  it('GIVEN checkout calling payments gRPC THEN allowed, citing the rule line and the objects of both meshes', () => {
    const run = runCli(['explain', 'shop/checkout', 'shop/payments', '--port', 'grpc', '--path', '/payments.v1.Payments/Charge'], shop);
    assert.equal(run.exit, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.equal(lines[1], 'policy: ALLOWED — an allow rule matches');
    assert.equal(lines[2], '  allow rule at shop.ts:31:19');
    assert.match(lines[3] ?? '', /^istio: ALLOW — .*\(AuthorizationPolicy shop\/payments-allow\)$/);
    assert.match(lines[4] ?? '', /^linkerd: ALLOW — .*GRPCRoute shop\/payments-grpc-payments; admitted by AuthorizationPolicy shop\/payments-grpc-payments/);
  });

  it('GIVEN a plaintext scraper on the PERMISSIVE metrics port THEN denied by the policy and by both meshes', () => {
    const run = runCli(['explain', 'plaintext', 'shop/payments', '--port', 'metrics', '--path', '/metrics'], shop);
    assert.match(run.stdout, /policy: DENIED — no allow rule matches/);
    assert.match(run.stdout, /istio: DENY — .*plaintext/);
    assert.match(run.stdout, /linkerd: DENY — /);
  });

  it('GIVEN an unknown service THEN a usage error that lists the services', () => {
    const run = runCli(['explain', 'shop/nope', 'shop/payments'], shop);
    assert.equal(run.exit, 2);
    assert.match(run.stderr, /Unknown caller 'shop\/nope'.*shop\/checkout/);
  });
});

describe('matrix', () => {
  it('lists exactly the allowed calls, in every format', () => {
    const csv = runCli(['matrix', '--format', 'csv'], shop);
    assert.equal(csv.exit, 0);
    assert.deepEqual(csv.stdout.trim().split('\n'), [
      'from,to,port,protocol,mtls,allows,except,plaintext',
      'shop/checkout,data/postgres,sql (5432),tcp,STRICT,any connection,,no',
      'shop/frontend,shop/checkout,http (8080),http,STRICT,"POST /checkout, /checkout/*",,no',
      'identity:istio-system/istio-ingressgateway-service-account,shop/frontend,http (8080),http,STRICT,"GET,POST /*",,no',
      'shop/checkout,shop/payments,grpc (9090),grpc,STRICT,POST /payments.v1.Payments/*,,no',
      'namespace:monitoring,shop/payments,metrics (9102),http,PERMISSIVE,GET /metrics,,no',
    ]);
    const json = JSON.parse(runCli(['matrix', '--format', 'json'], shop).stdout) as { from: string }[];
    assert.equal(json.length, 5);
    const markdown = runCli(['matrix', '--format', 'markdown'], shop).stdout.split('\n');
    assert.equal(markdown[0], '| from | to | port | protocol | mtls | allows | except | plaintext |');
    assert.equal(markdown.length, 2 + 5 + 1);
    const text = runCli(['matrix'], shop).stdout.split('\n');
    assert.match(text[0] ?? '', /^from +to +port +protocol +mtls +allows +except +plaintext$/);
  });
});
