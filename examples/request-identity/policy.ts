/**
 * Example: rules that read the request, not only the caller. An API gateway forwards end users' requests to
 * `orders`; `orders` admits only users with a valid JWT of the company's issuer (admins, by claim, for the admin
 * API), and the reporting job only with its `x-tenant` header. A debug header is refused from everyone.
 * Istio only: Linkerd has no end-user authentication (PC4111) and refuses the presence deny (PC4112), and the
 * ambient target does not compile request identities yet (PC4210). See README.md.
 */
import { allow, deny, anyone, exact, jwtIssuer, mesh, namespace, neverReaches, prefix, present, reaches, requestIdentity, service } from 'policyc';

const shop = namespace('shop');

export const gateway = service(shop, 'gateway', { ports: { http: { port: 8080, protocol: 'http' } } });
export const reports = service(shop, 'reports', { ports: { http: { port: 8080, protocol: 'http' } } });
export const orders = service(shop, 'orders', {
  ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } },
});

/** The company's identity provider: declared once, with where its keys are published. */
export const accounts = jwtIssuer({ issuer: 'https://accounts.example.com', jwksUri: 'https://accounts.example.com/.well-known/jwks.json' });

export default mesh({
  services: [gateway, reports, orders],
  rules: [
    // Any signed-in user, through the gateway's forwarded request: the token decides, not the peer.
    allow(requestIdentity(accounts)).to(orders, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/orders', '/orders/*'] }),
    // Admins only, by a claim of the token.
    allow(requestIdentity(accounts, { claims: { role: 'admin' } })).to(orders, { ports: ['http'], paths: ['/admin/*'] }),
    // The reporting job, by workload identity and headers.
    allow(reports).to(orders, { ports: ['http'], methods: ['GET'], headers: { 'x-tenant': prefix('tenant-'), 'x-report': exact('daily') } }),
    // Nobody gets the debug endpoints switched on by a header.
    deny(anyone).to(orders, { ports: ['http'], headers: { 'x-debug': present } }),
    allow(gateway).to(orders, { ports: ['db'] }),
  ],
  assertions: [reaches(reports, orders, { port: 'http', method: 'GET', path: '/orders' }), neverReaches(reports, orders, { port: 'db' })],
});
