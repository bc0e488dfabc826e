import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import type { Client } from './support';
import { codes, compile, disagreements, errors, model, ofKind, requests, rule, spec, svc } from './support';

const shop = svc('shop', 'cart', {
  http: { port: 8080, protocol: 'http' },
  h2: { port: 8081, protocol: 'http2' },
  rpc: { port: 9090, protocol: 'grpc' },
  db: { port: 5432, protocol: 'tcp' },
});
const web = svc('shop', 'web', { http: { port: 80, protocol: 'http' } });
const ops = svc('ops', 'admin', { http: { port: 80, protocol: 'http' } }, { serviceAccount: 'admin-sa' });

const clients: Client[] = [
  { label: 'web', identity: 'shop/web', ip: '10.1.0.5' },
  { label: 'admin', identity: 'ops/admin-sa', ip: '10.2.0.5' },
  { label: 'other-in-shop', identity: 'shop/stranger', ip: '10.1.0.9' },
  { label: 'plaintext-inside', ip: '10.3.0.1' },
  { label: 'plaintext-outside', ip: '192.168.7.7' },
  { label: 'meshed-outside', identity: 'far/away', ip: '192.168.7.8' },
  { label: 'v6', ip: '2001:db8::1' },
];

describe('Linkerd target: Servers', () => {
  it('GIVEN a service with four ports WHEN compiled THEN there is one Server per port, by number, with the protocol mapped and accessPolicy deny written', () => {
    const out = compile(model([shop], []));
    const servers = ofKind(out, 'Server').sort((a, b) => spec(a)['port'] - spec(b)['port']);
    assert.deepEqual(
      servers.map((s) => [s.apiVersion, s.metadata.name, s.metadata.namespace, spec(s)['port'], spec(s)['proxyProtocol'], spec(s)['accessPolicy']]),
      [
        ['policy.linkerd.io/v1beta3', 'cart-db', 'shop', 5432, 'opaque', 'deny'],
        ['policy.linkerd.io/v1beta3', 'cart-http', 'shop', 8080, 'HTTP/1', 'deny'],
        ['policy.linkerd.io/v1beta3', 'cart-h2', 'shop', 8081, 'HTTP/2', 'deny'],
        ['policy.linkerd.io/v1beta3', 'cart-rpc', 'shop', 9090, 'gRPC', 'deny'],
      ],
    );
    for (const s of servers) assert.deepEqual(spec(s)['podSelector'], { matchLabels: { app: 'cart' } });
    assert.deepEqual(errors(out), []);
  });

  it('GIVEN defaultAction allow WHEN compiled THEN STRICT ports fall back to all-authenticated and PERMISSIVE ones to all-unauthenticated, with no grants', () => {
    const s = svc('shop', 'cart', { a: { port: 1, protocol: 'http' }, b: { port: 2, protocol: 'http', mtls: 'PERMISSIVE' } });
    const out = compile(model([s], [], { defaultAction: 'allow' }));
    assert.deepEqual(
      ofKind(out, 'Server')
        .map((o) => [spec(o)['port'], spec(o)['accessPolicy']])
        .sort(),
      [
        [1, 'all-authenticated'],
        [2, 'all-unauthenticated'],
      ],
    );
    assert.deepEqual(ofKind(out, 'AuthorizationPolicy'), []);
  });
});

describe('Linkerd target: mTLS modes', () => {
  it('GIVEN anyone on a STRICT port WHEN compiled THEN it is any authenticated identity (MeshTLS *) and plaintext is refused', () => {
    const m = model([shop], [rule('allow', [{ kind: 'anyone' }], shop.id, ['http'])]);
    const out = compile(m);
    assert.deepEqual(
      ofKind(out, 'MeshTLSAuthentication').map((o) => spec(o)['identities']),
      [['*']],
    );
    assert.deepEqual(ofKind(out, 'NetworkAuthentication'), []);
    assert.deepEqual(disagreements(m, out, shop, 'http', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN anyone on a PERMISSIVE port WHEN compiled THEN it is a NetworkAuthentication of 0.0.0.0/0 and ::/0 (never an empty ref list)', () => {
    const m = model([shop], [rule('allow', [{ kind: 'anyone' }], shop.id, ['http'])], { mtls: 'PERMISSIVE' });
    const out = compile(m);
    assert.deepEqual(
      ofKind(out, 'NetworkAuthentication').map((o) => spec(o)['networks']),
      [[{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }]],
    );
    assert.deepEqual(ofKind(out, 'MeshTLSAuthentication'), []);
    for (const p of ofKind(out, 'AuthorizationPolicy')) assert.ok(spec(p)['requiredAuthenticationRefs'].length > 0);
    assert.deepEqual(disagreements(m, out, shop, 'http', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN an ipBlock on a STRICT port WHEN compiled THEN the grant requires an identity AND the network', () => {
    const m = model([shop], [rule('allow', [{ kind: 'ipBlock', cidr: '10.0.0.0/8' }], shop.id, ['db'])]);
    const out = compile(m);
    const [policy] = ofKind(out, 'AuthorizationPolicy');
    assert.deepEqual(
      spec(policy!)
        ['requiredAuthenticationRefs'].map((r: { kind: string }) => r.kind)
        .sort(),
      ['MeshTLSAuthentication', 'NetworkAuthentication'],
    );
    assert.deepEqual(
      ofKind(out, 'MeshTLSAuthentication').map((o) => spec(o)['identities']),
      [['*']],
    );
    assert.deepEqual(disagreements(m, out, shop, 'db', clients, requests(['GET'], ['/'])), []);
  });

  // (ids AND n1) OR (ids AND n2) = ids AND (n1 OR n2): refs of one policy are ANDed, policies ORed, and a
  // NetworkAuthentication's entries ORed (shared/docs/linkerd.md §3 and §5, from linkerd2 policy-controller
  // `k8s/index/src/inbound/index.rs` and `admission.rs`).
  it('GIVEN two rules granting two ipBlocks on one STRICT port WHEN compiled THEN one AuthorizationPolicy requires an identity AND one network list of both blocks', () => {
    const m = model(
      [shop],
      [rule('allow', [{ kind: 'ipBlock', cidr: '10.1.0.0/16' }], shop.id, ['db']), rule('allow', [{ kind: 'ipBlock', cidr: '10.3.0.0/16' }], shop.id, ['db'])],
    );
    const out = compile(m);
    assert.equal(ofKind(out, 'AuthorizationPolicy').length, 1);
    assert.deepEqual(
      ofKind(out, 'NetworkAuthentication').map((o) => spec(o)['networks'].map((n: { cidr: string }) => n.cidr)),
      [['10.1.0.0/16', '10.3.0.0/16']],
    );
    // web (10.1.0.5, meshed) passes; plaintext-inside (10.3.0.1) does not: STRICT needs an identity.
    assert.deepEqual(disagreements(m, out, shop, 'db', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN one caller granted on a port and again from a network WHEN compiled THEN the wider grant alone remains (every address absorbs the block)', () => {
    const m = model(
      [shop, web],
      [
        rule('allow', [{ kind: 'service', service: web.id }], shop.id, ['db']),
        rule('allow', [{ kind: 'both', identity: { kind: 'service', service: web.id }, cidrs: ['10.1.0.0/16'] }], shop.id, ['db']),
      ],
    );
    const out = compile(m);
    assert.equal(ofKind(out, 'AuthorizationPolicy').length, 1);
    assert.deepEqual(ofKind(out, 'NetworkAuthentication'), []);
    assert.deepEqual(disagreements(m, out, shop, 'db', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN an ipBlock on a PERMISSIVE port WHEN compiled THEN only the network is required (plaintext clients in the block pass)', () => {
    const m = model([shop], [rule('allow', [{ kind: 'ipBlock', cidr: '10.0.0.0/8' }], shop.id, ['db'])], { mtls: 'PERMISSIVE' });
    const out = compile(m);
    const [policy] = ofKind(out, 'AuthorizationPolicy');
    assert.deepEqual(
      spec(policy!)['requiredAuthenticationRefs'].map((r: { kind: string }) => r.kind),
      ['NetworkAuthentication'],
    );
    assert.deepEqual(disagreements(m, out, shop, 'db', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN identity sources on a PERMISSIVE port WHEN compiled THEN meshed callers match by identity and plaintext callers do not', () => {
    const m = model([shop, web], [rule('allow', [{ kind: 'service', service: web.id }, { kind: 'authenticated' }], shop.id, ['h2'])], { mtls: 'PERMISSIVE' });
    const out = compile(m);
    assert.deepEqual(disagreements(m, out, shop, 'h2', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN a port whose effective mode is DISABLE WHEN compiled THEN PC4101 refuses it and says to use PERMISSIVE or Istio', () => {
    const s = svc('shop', 'legacy', { http: { port: 80, protocol: 'http', mtls: 'DISABLE' }, ok: { port: 81, protocol: 'http' } });
    const out = compile(model([s], []));
    assert.deepEqual(codes(out), ['PC4101']);
    assert.equal(out.diagnostics[0]!.severity, 'error');
    assert.match(out.diagnostics[0]!.message, /PERMISSIVE/);
    assert.match(out.diagnostics[0]!.message, /Istio only/);
    assert.deepEqual(
      ofKind(out, 'Server').map((o) => spec(o)['port']),
      [81],
    );
  });

  it('GIVEN a namespace in DISABLE mode WHEN compiled THEN every port that inherits it is refused', () => {
    const s = svc('legacy', 'old', { http: { port: 80, protocol: 'http' } });
    const out = compile(model([s], [], {}, [{ name: 'legacy', mtls: 'DISABLE' }]));
    assert.deepEqual(codes(out), ['PC4101']);
  });
});

describe('Linkerd target: identities and sources', () => {
  it('GIVEN a custom trust domain WHEN compiled THEN identities are <sa>.<ns>.serviceaccount.identity.linkerd.<td> and namespaces are *.<ns>...', () => {
    const m = model(
      [shop, web, ops],
      [
        rule(
          'allow',
          [
            { kind: 'service', service: web.id },
            { kind: 'namespace', namespace: 'ops' },
            { kind: 'identity', namespace: 'batch', serviceAccount: 'job' },
          ],
          shop.id,
          ['http'],
        ),
      ],
      { trustDomain: 'prod.example.org' },
    );
    const out = compile(m);
    assert.deepEqual(
      ofKind(out, 'MeshTLSAuthentication').map((o) => spec(o)['identities']),
      [
        [
          '*.ops.serviceaccount.identity.linkerd.prod.example.org',
          'job.batch.serviceaccount.identity.linkerd.prod.example.org',
          'web.shop.serviceaccount.identity.linkerd.prod.example.org',
        ],
      ],
    );
    assert.deepEqual(disagreements(m, out, shop, 'http', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN a rule with a service source and an ipBlock source WHEN compiled THEN they become two ORed AuthorizationPolicies, not one ANDed', () => {
    const m = model(
      [shop, web],
      [
        rule(
          'allow',
          [
            { kind: 'service', service: web.id },
            { kind: 'ipBlock', cidr: '192.168.0.0/16' },
          ],
          shop.id,
          ['http'],
        ),
      ],
      {
        mtls: 'PERMISSIVE',
      },
    );
    const out = compile(m);
    const policies = ofKind(out, 'AuthorizationPolicy');
    assert.equal(policies.length, 2);
    assert.deepEqual(
      policies
        .map((p) =>
          spec(p)
            ['requiredAuthenticationRefs'].map((r: { kind: string }) => r.kind)
            .join('+'),
        )
        .sort(),
      // One service account is a ServiceAccount ref (linkerd.md §3), without a MeshTLSAuthentication object.
      ['NetworkAuthentication', 'ServiceAccount'],
    );
    assert.deepEqual(disagreements(m, out, shop, 'http', clients, requests(['GET'], ['/'])), []);
  });

  it('GIVEN many rules and sources WHEN compiled THEN no policy has an empty ref list or more than one MeshTLS ref, and every ref has group and kind', () => {
    const m = model(
      [shop, web, ops],
      [
        rule('allow', [{ kind: 'service', service: web.id }, { kind: 'ipBlock', cidr: '10.0.0.0/8' }, { kind: 'anyone' }], shop.id, ['http', 'db']),
        rule('allow', [{ kind: 'namespace', namespace: 'ops' }, { kind: 'authenticated' }], shop.id, ['rpc'], {
          paths: [{ kind: 'prefix', value: '/pkg.Cart/' }],
        }),
        rule('allow', [{ kind: 'ipBlock', cidr: '2001:db8::/32' }], web.id, ['http'], { methods: ['GET'], paths: [{ kind: 'prefix', value: '/api/' }] }),
      ],
      { mtls: 'PERMISSIVE' },
    );
    const out = compile(m);
    for (const p of ofKind(out, 'AuthorizationPolicy')) {
      const refs = spec(p)['requiredAuthenticationRefs'] as { group?: string; kind?: string }[];
      assert.ok(refs.length > 0);
      assert.ok(refs.filter((r) => r.kind === 'MeshTLSAuthentication').length <= 1);
      assert.ok(refs.filter((r) => r.kind === 'NetworkAuthentication').length <= 1);
      for (const r of [...refs, spec(p)['targetRef']]) {
        assert.equal(typeof r.group, 'string');
        assert.equal(typeof r.kind, 'string');
      }
    }
    for (const route of [...ofKind(out, 'HTTPRoute'), ...ofKind(out, 'GRPCRoute')])
      for (const parent of spec(route)['parentRefs']) assert.deepEqual({ ...parent, name: 'x' }, { group: 'policy.linkerd.io', kind: 'Server', name: 'x' });
    assert.ok(out.objects.every((o) => typeof o.metadata.namespace === 'string'));
  });
});

describe('Linkerd target: default posture', () => {
  it('GIVEN defaultAction deny WHEN compiled THEN every namespace gets a default-inbound-policy deny patch', () => {
    const out = compile(model([shop, ops], []));
    assert.deepEqual(out.patches, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ops', annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' } } },
    ]);
  });

  it('GIVEN defaultAction allow WHEN compiled THEN the patch follows each namespace mode (STRICT: all-authenticated, else all-unauthenticated)', () => {
    const out = compile(model([shop, ops], [], { defaultAction: 'allow' }, [{ name: 'ops', mtls: 'PERMISSIVE' }, { name: 'shop' }]));
    assert.deepEqual(
      (out.patches ?? []).map((p) => [p.metadata.name, p.metadata.annotations?.['config.linkerd.io/default-inbound-policy']]),
      [
        ['ops', 'all-unauthenticated'],
        ['shop', 'all-authenticated'],
      ],
    );
  });
});

describe('Linkerd target: determinism and locality', () => {
  it('GIVEN the same model twice WHEN compiled THEN the output is identical', () => {
    const m = model([shop, web], [rule('allow', [{ kind: 'service', service: web.id }], shop.id, ['http'], { paths: [{ kind: 'prefix', value: '/a/' }] })]);
    assert.equal(JSON.stringify(compile(m)), JSON.stringify(compile(m)));
  });

  it('GIVEN a one-rule change WHEN compiled THEN only objects of that destination change', () => {
    const base = [
      rule('allow', [{ kind: 'service', service: web.id }], shop.id, ['http'], { id: 'a' }),
      rule('allow', [{ kind: 'service', service: shop.id }], web.id, ['http'], { id: 'b', paths: [{ kind: 'exact', value: '/x' }] }),
    ];
    const before = compile(model([shop, web], base));
    const changed = compile(
      model(
        [shop, web],
        [
          base[0]!,
          rule('allow', [{ kind: 'service', service: shop.id }, { kind: 'anyone' }], web.id, ['http'], { id: 'b2', paths: [{ kind: 'exact', value: '/y' }] }),
        ],
      ),
    );
    const key = (o: { kind: string; metadata: { name: string } }): string => `${o.kind}/${o.metadata.name}`;
    const a = new Map(before.objects.map((o) => [key(o), JSON.stringify(o)]));
    const b = new Map(changed.objects.map((o) => [key(o), JSON.stringify(o)]));
    const touched = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
    assert.ok(touched.length > 0);
    // The destination's own objects, and authentication objects shared by the namespace, named by whom they admit.
    for (const k of touched) if (!/^(MeshTLS|Network)Authentication\//.test(k)) assert.match(k.split('/')[1]!, /^web-/);
    assert.deepEqual(
      touched.filter((k) => !k.includes('/web-')),
      ['MeshTLSAuthentication/authenticated'],
    );
  });
});
