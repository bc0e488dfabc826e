/**
 * Example (c): a gradual rollout. The policy governs two namespaces only (`scope: 'namespaces'`): storefront is
 * enforced; orders is being adopted in audit, so what the policy would deny there is logged, not refused
 * (PERMISSIVE while auditing: Linkerd's audit policy admits plaintext, which STRICT would refuse).
 */
import { allow, mesh, namespace, neverReaches, reaches, service } from 'policyc';

const storefront = namespace('storefront');
const orders = namespace('orders', { mtls: 'PERMISSIVE', enforcement: 'audit' });

export const web = service(storefront, 'web', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const cart = service(storefront, 'cart', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const ordersApi = service(orders, 'orders-api', {
  ports: {
    // The ambient target warns that old ztunnels enforce dry-run policies (PC4220); this cluster runs a newer Istio.
    http: { port: 8080, protocol: 'http', acknowledge: { PC4220: 'the cluster runs Istio 1.26' } },
  },
});

export default mesh({
  scope: 'namespaces',
  services: [web, cart, ordersApi],
  rules: [allow(web).to(cart, { ports: ['http'] }), allow(cart).to(ordersApi, { ports: ['http'] })],
  assertions: [
    reaches(cart, ordersApi, { port: 'http' }),
    // Enforced: only web calls cart.
    neverReaches(ordersApi, cart),
    // Audited: web -> orders-api would be denied, and is let through (and reported) until orders is enforced.
    reaches(web, ordersApi, { port: 'http' }),
  ],
});
