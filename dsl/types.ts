/**
 * The closed vocabularies of a policy: mTLS modes, port protocols, HTTP methods.
 * Closed unions so that a typo is a type error and an editor can complete them.
 */

/**
 * How a workload accepts inbound connections.
 * - `STRICT`: mutual TLS only; plaintext clients are refused.
 * - `PERMISSIVE`: mutual TLS and plaintext both accepted.
 * - `DISABLE`: plaintext only; no peer identity is ever known.
 *
 * @example
 * mesh({ mtls: 'STRICT', services: [], rules: [] })
 * @default 'STRICT' at mesh level
 */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/**
 * What a port speaks. HTTP constraints (methods, paths) are only allowed on `http`, `http2` and `grpc` ports.
 *
 * @example
 * service(shop, 'db', { ports: { sql: { port: 5432, protocol: 'tcp' } } })
 */
export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';

/**
 * An HTTP request method, upper-case as it appears on the wire (meshes match methods case-sensitively).
 *
 * @example
 * allow(checkout).to(payments, { ports: ['http'], methods: ['GET', 'POST'] })
 */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';

/**
 * A request path: `/exact/path` matches that path only; `/prefix/*` matches every path that starts with `/prefix/`.
 * The query string is never part of the match. `*` is only allowed as the last character.
 *
 * @example
 * allow(web).to(api, { ports: ['http'], paths: ['/healthz', '/v1/*'] })
 */
export type PathPattern = `/${string}`;

/**
 * Whether a request that no rule allows is denied (`deny`, the safe default) or allowed (`allow`).
 *
 * @example
 * mesh({ defaultAction: 'deny', services: [], rules: [] })
 * @default 'deny'
 */
export type DefaultAction = 'allow' | 'deny';

/**
 * Whether a namespace's or service's authorization is enforced, or only audited: in `audit`, a request the policy
 * would deny is allowed and reported (Istio logs it as a dry-run denial, Linkerd as an audit decision). The mTLS
 * mode is never audited: a STRICT port still refuses plaintext clients.
 *
 * @example
 * namespace('shop', { enforcement: 'audit' })
 * @default 'enforce'
 */
export type Enforcement = 'enforce' | 'audit';

/**
 * Which namespaces a policy governs.
 * - `mesh`: every namespace of the mesh. Mesh-wide objects are written (Istio's root-namespace PeerAuthentication), so
 *   a namespace the policy does not name gets the mesh's mTLS mode.
 * - `namespaces`: only the namespaces the policy declares (its services' and `namespaces`). Nothing is written
 *   outside them; every other namespace keeps the cluster's defaults.
 *
 * @example
 * mesh({ scope: 'namespaces', namespaces: [shop], services: [], rules: [] })
 * @default 'mesh'
 */
export type PolicyScope = 'mesh' | 'namespaces';

/**
 * Warnings acknowledged where they arise, by code, each with the reason it is accepted. An acknowledged warning is not
 * printed as a warning; the build lists it as acknowledged and records it in the output (`acknowledged.txt`).
 * Errors cannot be acknowledged.
 *
 * @example
 * const ack: Acknowledgements = { PC4106: 'kubelet only; probes are plaintext' };
 */
export type Acknowledgements = Readonly<Partial<Record<`PC${number}`, string>>>;

/**
 * Where in the user's policy source a declaration was made. Filled in by the DSL from the call site,
 * then mapped back to the TypeScript source by the compiler.
 *
 * @example
 * // { file: '/repo/policy/shop.ts', line: 12, column: 3 }
 * @internal
 */
export interface DeclarationSite {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

/**
 * An HTTP header name as a rule names it: lower-case, because meshes compare header names case-insensitively and
 * policyc writes them lower-case (`'X-Token'` is a type error; write `'x-token'`).
 *
 * @example
 * allow(web).to(api, { ports: ['http'], headers: { 'x-env': prefix('prod-') } })
 */
export type HeaderName = Lowercase<string>;
