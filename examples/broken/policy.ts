/**
 * Example (c): a policy that type-checks but that policyc refuses. `policyc check` lists every problem
 * at once, each with its code and the line to fix; nothing is written.
 */
import { allow, deny, ipBlocks, mesh, namespace, service } from 'policyc';

const shop = namespace('shop');
const legacy = namespace('legacy', { mtls: 'PERMISSIVE' });

export const checkout = service(shop, 'checkout', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

// PC3001: the same service declared twice.
export const checkoutAgain = service(shop, 'checkout', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

// PC3002: selects the same pods as `checkout` (app: checkout).
export const checkoutCanary = service(shop, 'checkout-canary', {
  selector: { app: 'checkout' },
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const billing = service(legacy, 'billing', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

export default mesh({
  services: [checkout, checkoutAgain, checkoutCanary, billing],
  rules: [
    // PC3011: billing accepts plaintext, and plaintext clients from shop carry no identity.
    deny(shop).to(billing, { ports: ['http'] }),
    // PC3015: host bits set.
    allow(ipBlocks('10.1.2.3/8')).to(billing, { ports: ['http'] }),
    // PC3016: '*' in the middle of a path is not a wildcard in either mesh.
    allow(checkout).to(billing, { ports: ['http'], paths: ['/api/*/orders'] }),
  ],
});
