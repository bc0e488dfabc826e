/**
 * The Linkerd webhook's checks run on policyc's own output (targets/linkerd/admission.ts). Each object's checks are
 * made once and kept (a watch session checks mostly the same objects after every edit), so a kept check must still
 * look up what it names in the objects of each call.
 */
import { describe, expect, it } from '@jest/globals';
import { linkerdProblems } from '../../targets/linkerd/admission';
import type { KubernetesObject } from '../../model/target';

const server: KubernetesObject = {
  apiVersion: 'policy.linkerd.io/v1beta3',
  kind: 'Server',
  metadata: { name: 'web-http', namespace: 'shop' },
  spec: { podSelector: { matchLabels: { app: 'web' } }, port: 8080, proxyProtocol: 'HTTP/1', accessPolicy: 'deny' },
};
const authentication: KubernetesObject = {
  apiVersion: 'policy.linkerd.io/v1alpha1',
  kind: 'MeshTLSAuthentication',
  metadata: { name: 'clients', namespace: 'linkerd' },
  spec: { identities: ['*.clients.serviceaccount.identity.linkerd.cluster.local'] },
};
const policy: KubernetesObject = {
  apiVersion: 'policy.linkerd.io/v1alpha1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'web-http', namespace: 'shop' },
  spec: {
    targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'web-http' },
    requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'clients', namespace: 'linkerd' }],
  },
};

describe('Linkerd webhook checks on the output', () => {
  it('GIVEN a policy whose Server and cross-namespace authentication are emitted THEN there is no problem, and without them both are reported', () => {
    expect(linkerdProblems([server, authentication, policy])).toEqual([]);
    // The same policy object again (its checks kept), in a set without what it names.
    expect(linkerdProblems([policy]).sort()).toEqual([
      'AuthorizationPolicy shop/web-http: ref MeshTLSAuthentication linkerd/clients is not emitted',
      'AuthorizationPolicy shop/web-http: targetRef names Server web-http, which is not emitted',
    ]);
    expect(linkerdProblems([server, authentication, policy])).toEqual([]);
  });

  it('GIVEN two objects of the same kind, namespace and name THEN the second is reported', () => {
    expect(linkerdProblems([server, { ...server }])).toEqual(['Server shop/web-http: two objects have this kind, namespace and name']);
  });
});
