/**
 * Example (a): checkout may call payments, verified by identity; STRICT mTLS mesh-wide.
 */
import { allow, mesh, namespace, service } from 'policyc';

const shop = namespace('shop');

export const checkout = service(shop, 'checkout', {
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const payments = service(shop, 'payments', {
  serviceAccount: 'payments-sa',
  ports: { grpc: { port: 9090, protocol: 'grpc' } },
});

export default mesh({
  mtls: 'STRICT',
  defaultAction: 'deny',
  // Mesh scope on Linkerd: shop is the only meshed namespace of this example's cluster.
  everyMeshedNamespaceListed: true,
  services: [checkout, payments],
  rules: [allow(checkout).to(payments, { ports: ['grpc'] })],
});
