/**
 * The sources and request conditions of real policies, on Istio and Linkerd alike: a VM known only by its SPIFFE ID,
 * every workload of the old trust domain during a trust-domain migration, a caller that must present its identity AND
 * come from the cluster network, and a rule that also reads request headers.
 * Build: `policyc build examples/identities/policy.ts --target istio,linkerd`. Istio ambient refuses the VM's SPIFFE
 * ID (PC4214: ztunnel identities are always `ns/<ns>/sa/<sa>`), so `targets` lists istio and linkerd.
 */
import { allow, both, deny, exact, ipBlocks, linkerdVizPrometheus, mesh, namespace, neverReaches, reaches, service, spiffe, trustDomain } from 'policyc';

const shop = namespace('shop');

export const storefront = service(shop, 'storefront', { ports: { http: { port: 8080, protocol: 'http' } } });
export const reports = service(shop, 'reports', { ports: { http: { port: 8080, protocol: 'http' } } });
export const orders = service(shop, 'orders', { ports: { http: { port: 8080, protocol: 'http', probes: { readiness: { path: '/healthz' } } } } });

/** A billing job on a VM, outside Kubernetes: known by its SPIFFE ID only. */
const billingVm = spiffe('spiffe://new.example.org/vm/billing');

export default mesh({
  trustDomain: 'new.example.org',
  // Only the shop namespace is governed: other namespaces keep the cluster's defaults on both meshes.
  scope: 'namespaces',
  // The nodes' addresses, from which the kubelet probes (on Linkerd the probe route admits exactly these).
  probeNetworks: ['10.128.0.0/16'],
  namespaces: [shop],
  linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } },
  services: [storefront, reports, orders],
  rules: [
    // The storefront, but only from the cluster's pod network.
    allow(both(storefront, ipBlocks('10.0.0.0/8'))).to(orders, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/orders/*'] }),
    // The reports job reads orders of its tenant only: it must say which, in a header.
    allow(reports).to(orders, { ports: ['http'], methods: ['GET'], paths: ['/orders/*'], headers: { 'x-tenant': exact('acme') } }),
    // Nobody may use the legacy export mode, whatever else allows the call.
    deny(reports).to(orders, { ports: ['http'], headers: { 'x-export': exact('legacy') } }),
    // The VM, and during the migration every workload still on the old trust domain.
    allow(billingVm, trustDomain('old.example.org')).to(orders, { ports: ['http'], methods: ['POST'], paths: ['/billing/*'] }),
  ],
  assertions: [
    reaches(billingVm, orders, { port: 'http', method: 'POST', path: '/billing/run' }),
    neverReaches(billingVm, orders, { port: 'http', method: 'GET', path: '/orders/1' }),
    neverReaches(reports, orders, { port: 'http', method: 'POST', path: '/orders/1' }),
  ],
});
