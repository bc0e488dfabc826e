/**
 * Example (c), type errors: a typo is a red squiggle in the editor and a PC1002 diagnostic in CI.
 */
import { allow, mesh, namespace, service } from 'policyc';

const shop = namespace('shop');

export const checkout = service(shop, 'checkout', { ports: { http: { port: 8080, protocol: 'http' } } });
export const payments = service(shop, 'payments', { ports: { grpc: { port: 9090, protocol: 'grpc' } } });

export default mesh({
  mtls: 'STRICT',
  services: [checkout, payments],
  // 'grcp' is not a port of payments; 'post' is not an HTTP method (methods are upper-case).
  rules: [allow(checkout).to(payments, { ports: ['grcp'], methods: ['post'] })],
});
