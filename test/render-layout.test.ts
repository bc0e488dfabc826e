/**
 * The output layout (README "Applying the output"): one multi-document file per destination service, one per
 * namespace for the objects of no one service, in a deterministic order. GIVEN objects whose source annotation is
 * written by the targets' own metadata helper, WHEN rendered, THEN each lands in its service's (or namespace's)
 * file, and the files parse back to exactly the objects.
 */
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { fileOf, renderTarget } from '../compiler/render';
import type { SourceLocation } from '../model/model';
import type { KubernetesObject } from '../model/target';
import { serviceOfSource } from '../model/target';
import { namespaceOrigin, objectMetadata, ruleOrigin, serviceOrigin, type Origin } from '../targets/metadata';
import { manifestsFromFiles } from '../verify/compare';
import { rule, svc } from './model-builders';

const checkout = svc('shop', 'checkout', { http: { port: 8080, protocol: 'http' } });
const toCheckout = { ...rule('allow', [{ kind: 'service', service: 'shop/frontend' }], 'shop/checkout', ['http']), location: at('shop.ts') };
const toPayments = { ...rule('allow', [{ kind: 'namespace', namespace: 'monitoring' }], 'shop/payments', ['http']), location: at('monitoring.ts') };

function at(file: string): SourceLocation {
  return { file, line: 1, column: 1, start: 0, length: 1 };
}

function object(kind: string, name: string, namespace: string | undefined, origins: Origin[]): KubernetesObject {
  return { apiVersion: 'policy.linkerd.io/v1beta3', kind, metadata: objectMetadata(name, namespace, origins), spec: { name } };
}

describe('one file per destination service', () => {
  it('GIVEN an object of one service (its rules, its service) THEN it goes to <namespace>/<service>.yaml', () => {
    expect(fileOf(object('Server', 'checkout-http', 'shop', [serviceOrigin({ ...checkout, location: at('shop.ts') })]))).toBe('shop/checkout.yaml');
    expect(fileOf(object('HTTPRoute', 'checkout-http-x', 'shop', [ruleOrigin(toCheckout), ruleOrigin(toCheckout)]))).toBe('shop/checkout.yaml');
  });

  it('GIVEN an object of two services, of a namespace, of no declaration, or of a service of another namespace THEN it goes to the namespace file', () => {
    expect(fileOf(object('MeshTLSAuthentication', 'ns-monitoring', 'shop', [ruleOrigin(toCheckout), ruleOrigin(toPayments)]))).toBe('shop/_namespace.yaml');
    expect(fileOf(object('AuthorizationPolicy', 'allow-nothing', 'shop', [namespaceOrigin({ name: 'shop', location: at('namespaces.ts') })]))).toBe(
      'shop/_namespace.yaml',
    );
    expect(fileOf(object('PeerAuthentication', 'default', 'istio-system', []))).toBe('istio-system/_namespace.yaml');
    expect(fileOf(object('MeshTLSAuthentication', 'sa-shop-checkout', 'data', [ruleOrigin(toCheckout)]))).toBe('data/_namespace.yaml');
    expect(fileOf(object('ClusterThing', 'x', undefined, [ruleOrigin(toCheckout)]))).toBe('_cluster.yaml');
  });

  it('GIVEN a service named kustomization, or a namespace named patches THEN its file meets none of policyc’s own files', () => {
    const named = (namespace: string, name: string) =>
      fileOf(object('Server', `${name}-http`, namespace, [serviceOrigin({ ...svc(namespace, name, { http: { port: 80, protocol: 'http' } }) })]));
    expect(named('shop', 'kustomization')).toBe('shop/_service-kustomization.yaml');
    // `patches/namespace-shop.yaml` is the patch of the Namespace shop, `patches/kustomization.yaml` its Component.
    expect(named('patches', 'namespace-shop')).toBe('_namespace-patches/namespace-shop.yaml');
    expect(named('patches', 'kustomization')).toBe('_namespace-patches/_service-kustomization.yaml');
    const files = renderTarget(
      {
        objects: [object('Server', 'x', 'patches', [serviceOrigin(svc('patches', 'namespace-shop', {}))])],
        patches: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }],
        diagnostics: [],
      },
      'policy.ts',
    );
    expect([...files.keys()]).toEqual([
      '_namespace-patches/namespace-shop.yaml',
      'kustomization.yaml',
      'patches/kustomization.yaml',
      'patches/namespace-shop.yaml',
    ]);
  });

  it('GIVEN a service whose name ends in kustomization WHEN its file is read back for verify THEN its objects are read, the kustomization files are not', () => {
    const objects = [object('Server', 'shop-kustomization-http', 'shop', [serviceOrigin(svc('shop', 'shop-kustomization', {}))])];
    const files = renderTarget({ objects, diagnostics: [] }, 'policy.ts');
    expect(files.has('shop/shop-kustomization.yaml')).toBe(true);
    expect(manifestsFromFiles(files).map((o) => `${o.kind} ${o.metadata.name}`)).toEqual(['Server shop-kustomization-http']);
  });

  it('GIVEN a policy file whose name reads like another declaration THEN the object is not filed under the service it spells', () => {
    const forged = { ...toCheckout, location: at('x; allow(a) to shop/evil.ts') };
    const o = object('HTTPRoute', 'r', 'shop', [ruleOrigin(forged)]);
    expect(serviceOfSource(o)).not.toBe('shop/evil');
    expect(fileOf(o)).not.toBe('shop/evil.yaml');
  });

  it('GIVEN objects in any order WHEN rendered THEN each file holds its objects sorted by kind and name, the kustomization lists the files, and the documents parse back to the objects', () => {
    const objects = [
      object('Server', 'checkout-http', 'shop', [serviceOrigin(checkout)]),
      object('AuthorizationPolicy', 'checkout-http-x', 'shop', [ruleOrigin(toCheckout)]),
      object('HTTPRoute', 'checkout-http-x', 'shop', [ruleOrigin(toCheckout)]),
      object('MeshTLSAuthentication', 'ns-monitoring', 'shop', [ruleOrigin(toCheckout), ruleOrigin(toPayments)]),
      object('Server', 'payments-http', 'shop', [ruleOrigin(toPayments)]),
    ];
    const files = renderTarget({ objects, diagnostics: [] }, 'policy.ts');
    expect(renderTarget({ objects: [...objects].reverse(), diagnostics: [] }, 'policy.ts')).toEqual(files);
    expect([...files.keys()]).toEqual(['kustomization.yaml', 'shop/_namespace.yaml', 'shop/checkout.yaml', 'shop/payments.yaml']);
    const documents = (file: string) => parseAllDocuments(files.get(file) ?? '').map((d) => d.toJS() as KubernetesObject);
    expect(documents('shop/checkout.yaml').map((o) => `${o.kind} ${o.metadata.name}`)).toEqual([
      'AuthorizationPolicy checkout-http-x',
      'HTTPRoute checkout-http-x',
      'Server checkout-http',
    ]);
    expect(documents('kustomization.yaml')[0]).toMatchObject({ resources: ['shop/_namespace.yaml', 'shop/checkout.yaml', 'shop/payments.yaml'] });
    const parsedBack = [...files.keys()].filter((f) => f !== 'kustomization.yaml').flatMap(documents);
    expect(parsedBack.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))).toEqual(
      JSON.parse(JSON.stringify(objects)).sort((a: KubernetesObject, b: KubernetesObject) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    );
    // One header per file, at its top.
    expect(files.get('shop/checkout.yaml')?.match(/^# Generated by policyc/gm)).toHaveLength(1);
  });
});
