/**
 * Type tests of the DSL, compiled by `tsc` in `npm test` (never run): each `@ts-expect-error` line must be
 * a type error, and each `expectType` must hold, or the build of the tests fails.
 */
import {
  allow,
  anyone,
  authenticated,
  deny,
  exact,
  identity,
  ipBlocks,
  jwtIssuer,
  mesh,
  namespace,
  prefix,
  present,
  requestIdentity,
  service,
} from '../../dsl';
import type { AccessRule, HttpMethod, MtlsMode, Protocol, Service } from '../../dsl';

/** Compiles only when `TActual` and `TExpected` are the same type. */
type Equal<TActual, TExpected> = (<T>() => T extends TActual ? 1 : 2) extends <T>() => T extends TExpected ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

const shop = namespace('shop');
const checkout = service(shop, 'checkout', { ports: { http: { port: 8080, protocol: 'http' } } });
const payments = service(shop, 'payments', {
  serviceAccount: 'payments-sa',
  ports: { grpc: { port: 9090, protocol: 'grpc' }, metrics: { port: 9102, protocol: 'http', mtls: 'PERMISSIVE' }, db: { port: 5432, protocol: 'tcp' } },
});

// Literal names and port names are kept in the types.
expectType<Equal<typeof shop.name, 'shop'>>();
expectType<Equal<typeof checkout.name, 'checkout'>>();
expectType<Equal<keyof typeof payments.ports, 'grpc' | 'metrics' | 'db'>>();
expectType<Equal<(typeof payments.ports)['db']['protocol'], 'tcp'>>();
expectType<Equal<MtlsMode, 'STRICT' | 'PERMISSIVE' | 'DISABLE'>>();
expectType<Equal<Protocol, 'http' | 'http2' | 'grpc' | 'tcp'>>();
expectType<Equal<HttpMethod, 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH'>>();

// Positive: every source kind, ports by name, L7 on HTTP ports.
const rules: AccessRule[] = [
  allow(checkout).to(payments, { ports: ['grpc'], methods: ['POST'], paths: ['/payments.v1.Payments/*'] }),
  allow(checkout, shop, authenticated, anyone, ipBlocks('10.0.0.0/8'), identity('ingress', 'gw')).to(payments, { ports: ['db'] }),
  allow(checkout).to(payments),
  deny(anyone).to(payments, { ports: ['metrics'], paths: ['/debug/*'] }),
];
expectType<Equal<typeof rules, AccessRule[]>>();

// @ts-expect-error a port that the destination does not declare
allow(checkout).to(payments, { ports: ['grcp'] });
// @ts-expect-error a port of another service (checkout's), not of the destination
allow(payments).to(payments, { ports: ['http'] });
// @ts-expect-error methods and paths are not allowed on a TCP port
allow(checkout).to(payments, { ports: ['db'], methods: ['GET'] });
// @ts-expect-error methods are upper-case
allow(checkout).to(payments, { ports: ['grpc'], methods: ['post'] });
// @ts-expect-error a path starts with '/'
allow(checkout).to(payments, { ports: ['metrics'], paths: ['metrics'] });
// @ts-expect-error services are values, not strings
allow('checkout').to(payments);
// @ts-expect-error the destination is a service value, not a string
allow(checkout).to('payments');
// @ts-expect-error a rule needs at least one source
allow().to(payments);
// @ts-expect-error mTLS modes are a closed union
namespace('legacy', { mtls: 'STRICTT' });
// @ts-expect-error protocols are a closed union
service(shop, 'x', { ports: { web: { port: 80, protocol: 'https' } } });
// @ts-expect-error the default action is allow or deny
mesh({ defaultAction: 'permit', services: [], rules: [] });
// @ts-expect-error a port needs a number
service(shop, 'y', { ports: { web: { protocol: 'http' } } });
// @ts-expect-error ipBlocks needs at least one block
ipBlocks();

// Header conditions and request identity (JWT).
const accounts = jwtIssuer({ issuer: 'https://accounts.example.com', jwksUri: 'https://accounts.example.com/jwks.json' });
const requestRules: AccessRule[] = [
  allow(checkout).to(payments, { ports: ['metrics'], headers: { 'x-token': exact('admin'), 'x-env': prefix('prod-'), 'x-debug': present } }),
  allow(requestIdentity(accounts, { subject: 'alice', claims: { role: 'admin' } })).to(payments, { ports: ['metrics'] }),
  deny(requestIdentity(accounts)).to(payments, { ports: ['grpc'], paths: ['/payments.v1.Payments/*'] }),
  allow(checkout, requestIdentity(accounts)).to(payments),
];
void requestRules;
// @ts-expect-error header conditions are not allowed on a TCP port
allow(checkout).to(payments, { ports: ['db'], headers: { 'x-token': exact('admin') } });
// @ts-expect-error header names are lower-case (they compare case-insensitively; policyc writes them lower-case)
allow(checkout).to(payments, { ports: ['metrics'], headers: { 'X-Token': exact('admin') } });
// @ts-expect-error a header condition is exact(...), prefix(...) or present, not a bare string
allow(checkout).to(payments, { ports: ['metrics'], headers: { 'x-token': 'admin' } });
// @ts-expect-error a request identity only applies to HTTP ports: a TCP port is a type error
allow(requestIdentity(accounts)).to(payments, { ports: ['db'] });
// @ts-expect-error a request identity among other sources still needs HTTP ports
allow(checkout, requestIdentity(accounts)).to(payments, { ports: ['grpc', 'db'] });
// @ts-expect-error a JWT source needs its issuer (declared with jwtIssuer)
requestIdentity({ subject: 'alice' });
// @ts-expect-error an issuer string is not an issuer declaration: declare it once with jwtIssuer({ issuer, jwksUri })
requestIdentity('https://accounts.example.com');
// @ts-expect-error a JWT issuer needs its keys: jwksUri or jwks
jwtIssuer({ issuer: 'https://accounts.example.com' });
// @ts-expect-error claim values are strings
requestIdentity(accounts, { claims: { admin: true } });

const typed: Service<'checkout', { http: { port: 8080; protocol: 'http' } }> = checkout;
void typed;
export default mesh({ services: [checkout, payments], rules });

// Posture per scope: closed vocabularies for scope, enforcement and defaultAction at every level; acknowledgements by code.
namespace('orders', { enforcement: 'audit', defaultAction: 'allow' });
service(shop, 'audited', { enforcement: 'audit', defaultAction: 'deny', ports: { http: { port: 8080, protocol: 'http', defaultAction: 'allow' } } });
mesh({ scope: 'namespaces', services: [], rules: [] });
allow(checkout).to(payments, { ports: ['grpc'], acknowledge: { PC4106: 'kubelet only' } });
// @ts-expect-error: 'dry-run' is not an enforcement (audit | enforce)
namespace('orders', { enforcement: 'dry-run' });
// @ts-expect-error: a scope is 'mesh' or 'namespaces'
mesh({ scope: 'cluster', services: [], rules: [] });
// @ts-expect-error: an acknowledgement is keyed by a PC code
allow(checkout).to(payments, { acknowledge: { probes: 'kubelet only' } });
