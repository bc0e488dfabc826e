/**
 * The one catalog of policyc diagnostics. Codes are stable and banded by phase:
 * 1xxx load and type-check, 2xxx evaluate, 3xxx validate, 4xxx targets, 5xxx CLI, 60xx import.
 * Never reuse or renumber a code; retire it instead.
 */
export type Severity = 'error' | 'warning';

export interface CatalogEntry {
  readonly code: `PC${number}`;
  readonly severity: Severity;
  /** What the user should read in the docs. */
  readonly summary: string;
}

export const catalog = {
  // 1xxx load and type-check
  'entry-not-found': { code: 'PC1001', severity: 'error', summary: 'The entry file does not exist.' },
  'type-error': { code: 'PC1002', severity: 'error', summary: 'The TypeScript checker rejected the policy source.' },
  // 2xxx evaluate
  'policy-threw': { code: 'PC2001', severity: 'error', summary: 'Policy code threw an exception while it was evaluated.' },
  'forbidden-import': {
    code: 'PC2002',
    severity: 'error',
    summary: "Policy code imported something other than 'policyc' or another policy file.",
  },
  'evaluation-timeout': { code: 'PC2003', severity: 'error', summary: 'Policy code ran longer than the evaluation time limit.' },
  'missing-mesh-export': {
    code: 'PC2004',
    severity: 'error',
    summary: 'The entry file has no `export default mesh({...})`.',
  },
  'nondeterministic-api': {
    code: 'PC2005',
    severity: 'error',
    summary: 'Policy code read the clock or a random number; builds must be deterministic.',
  },
  'not-a-declaration': {
    code: 'PC2006',
    severity: 'error',
    summary: 'A value in `services` or `rules` was not made by the policyc builders.',
  },
  'invalid-policy-value': {
    code: 'PC2007',
    severity: 'error',
    summary: 'A value from policy code has the wrong type, is not one of the allowed values, or is too long (a cast let it past the type checker).',
  },
  'evaluation-memory': { code: 'PC2008', severity: 'error', summary: 'Policy code used more memory than the evaluator allows.' },
  'policy-too-large': {
    code: 'PC2009',
    severity: 'error',
    summary: "The policy's export is too large or too deeply nested to be read.",
  },
  'evaluation-crashed': {
    code: 'PC2010',
    severity: 'error',
    summary: 'The evaluator process stopped without an answer (policy code exhausted its stack, or the process was killed).',
  },
  // 3xxx validate
  'duplicate-service': { code: 'PC3001', severity: 'error', summary: 'Two services have the same namespace and name.' },
  'overlapping-selectors': {
    code: 'PC3002',
    severity: 'error',
    summary: "Two services in one namespace select the same pods, so one's policy would apply to the other.",
  },
  'duplicate-port-number': { code: 'PC3003', severity: 'error', summary: 'Two ports of one service use the same number.' },
  'invalid-port-name': { code: 'PC3004', severity: 'error', summary: 'A port name is not a valid Kubernetes port name.' },
  'invalid-port-number': { code: 'PC3005', severity: 'error', summary: 'A port number is not an integer from 1 to 65535.' },
  'invalid-name': { code: 'PC3006', severity: 'error', summary: 'A namespace, service or service account name is not a valid Kubernetes name.' },
  'invalid-label': { code: 'PC3007', severity: 'error', summary: 'A selector label key or value is not valid in Kubernetes.' },
  'http-constraint-on-tcp': {
    code: 'PC3008',
    severity: 'error',
    summary: 'A rule narrows by HTTP method, path, header or request identity on a TCP port, where no HTTP request is ever seen.',
  },
  'unknown-port': { code: 'PC3009', severity: 'error', summary: 'A rule names a port its destination does not declare.' },
  'undeclared-service': {
    code: 'PC3010',
    severity: 'error',
    summary: 'A rule names a service that is not in the mesh’s `services` list.',
  },
  'deny-bypassed-by-plaintext': {
    code: 'PC3011',
    severity: 'error',
    summary: 'An identity-based deny on a port that accepts plaintext: plaintext clients carry no identity and would pass.',
  },
  'rule-never-matches': { code: 'PC3012', severity: 'warning', summary: 'A rule can never match any request.' },
  'rule-shadowed': { code: 'PC3013', severity: 'warning', summary: 'Another rule makes this rule have no effect.' },
  'empty-list': {
    code: 'PC3014',
    severity: 'error',
    summary: 'An empty list in a rule: it would allow nothing, or in a mesh policy everything.',
  },
  'invalid-cidr': { code: 'PC3015', severity: 'error', summary: 'An IP block is not a valid IPv4 or IPv6 address or CIDR.' },
  'invalid-path': { code: 'PC3016', severity: 'error', summary: 'A path pattern is not `/exact` or `/prefix*`.' },
  'conflicting-namespace': {
    code: 'PC3017',
    severity: 'error',
    summary: 'One namespace is declared twice with different settings.',
  },
  'allow-under-default-allow': {
    code: 'PC3018',
    severity: 'warning',
    summary: 'An allow rule has no effect: the mesh allows everything not denied.',
  },
  'service-in-root-namespace': {
    code: 'PC3019',
    severity: 'error',
    summary: "A service is declared in the mesh's root namespace, where Istio applies policies to every namespace.",
  },
  'identity-on-plaintext-port': {
    code: 'PC3020',
    severity: 'warning',
    summary: 'An identity-based allow on a port with mTLS disabled: no client there has an identity.',
  },
  'invalid-trust-domain': { code: 'PC3021', severity: 'error', summary: 'The trust domain is not a valid DNS name.' },
  'invalid-header-name': {
    code: 'PC3030',
    severity: 'error',
    summary: 'A header condition names a header that is not a lower-case HTTP token (or a pseudo-header such as `:authority`).',
  },
  'invalid-header-value': {
    code: 'PC3031',
    severity: 'error',
    summary: 'A header condition value is empty, holds `*`, or holds characters other than visible ASCII and spaces.',
  },
  'invalid-jwt-issuer': {
    code: 'PC3032',
    severity: 'error',
    summary: 'A JWT issuer is empty or holds `*`, or its keys are not exactly one of an http(s) `jwksUri` and an inline JSON `jwks` with `keys`.',
  },
  'conflicting-jwt-issuer': { code: 'PC3033', severity: 'error', summary: 'One JWT issuer is declared twice with different keys.' },
  'invalid-request-identity': {
    code: 'PC3034',
    severity: 'error',
    summary: 'A request identity has an empty subject or claim, a `*` in it, or a claim name that is not a plain name.',
  },
  'invalid-spiffe-id': {
    code: 'PC3040',
    severity: 'error',
    summary: 'A SPIFFE ID is not a URI `spiffe://<trust domain>/<path>`, or a trust domain source is not a DNS name.',
  },
  'remote-ip-without-gateway': {
    code: 'PC3041',
    severity: 'error',
    summary: '`remoteIpBlocks(...)` on a rule whose destination is not a declared gateway: only a gateway sees the original client address.',
  },
  'gateway-mtls': {
    code: 'PC3042',
    severity: 'error',
    summary: 'A gateway port sets an mTLS mode, but PeerAuthentication does not apply to gateway pods.',
  },
  'probe-path-on-non-http-port': {
    code: 'PC3050',
    severity: 'error',
    summary: 'An HTTP probe (a path) is declared on a port that does not speak HTTP.',
  },
  'invalid-probe-path': { code: 'PC3051', severity: 'error', summary: 'A probe path is not an exact request path.' },
  'tcp-probe-on-http-port': { code: 'PC3052', severity: 'error', summary: 'A TCP probe is declared on a port that speaks HTTP or gRPC.' },
  'invalid-acknowledgement': {
    code: 'PC3058',
    severity: 'error',
    summary: 'An acknowledgement names an unknown code or an error, or gives no reason; only warnings can be acknowledged.',
  },
  'invalid-control-plane-namespace': {
    code: 'PC3060',
    severity: 'error',
    summary: '`linkerd.controlPlaneNamespace` is not a DNS-1123 label (it is a namespace, and part of every Linkerd identity name).',
  },
  'proxy-admin-port-taken': {
    code: 'PC3061',
    severity: 'error',
    summary: "A service declares port 4191 while `linkerd.proxyAdmin` is set: that is the Linkerd proxy's own admin port.",
  },
  // 4xxx targets
  'istio-alias-trust-domain': {
    code: 'PC4010',
    severity: 'error',
    summary: 'A SPIFFE ID or trust domain names cluster.local while the mesh has another trust domain: Istio treats cluster.local as the mesh’s own.',
  },
  'schema-violation': {
    code: 'PC4001',
    severity: 'error',
    summary: 'An emitted object does not pass its CustomResourceDefinition (a policyc bug: please report it).',
  },
  'verification-mismatch': {
    code: 'PC4002',
    severity: 'error',
    summary: 'The mesh, simulated from the emitted objects, decides a request differently from the policy (a policyc bug: please report it).',
  },
  'verification-unsupported': {
    code: 'PC4003',
    severity: 'warning',
    summary: 'The mesh simulator cannot model some requests of this build, so they were not verified.',
  },
  'assertion-failed': {
    code: 'PC4004',
    severity: 'error',
    summary: 'A policy assertion does not hold, in the model or in a target’s simulated manifests.',
  },
  // 41xx Linkerd target
  'linkerd-mtls-disable': {
    code: 'PC4101',
    severity: 'error',
    summary: "A port's mTLS mode is DISABLE, which Linkerd policy objects cannot express (Linkerd always uses mTLS between meshed pods).",
  },
  'linkerd-deny-inexpressible': {
    code: 'PC4102',
    severity: 'error',
    summary: 'A deny rule cannot be compiled exactly into the allow-only Linkerd policy model.',
  },
  'linkerd-grpc-path': {
    code: 'PC4103',
    severity: 'error',
    summary: 'A path on a gRPC port is not `/pkg.Service/Method` or `/pkg.Service/*`, the only forms a GRPCRoute can match.',
  },
  'linkerd-empty-selector': {
    code: 'PC4104',
    severity: 'error',
    summary: 'A service has an empty selector; a Linkerd Server with an empty podSelector selects every pod in the namespace.',
  },
  'linkerd-server-overlap': {
    code: 'PC4105',
    severity: 'error',
    summary: 'Two Linkerd Servers would select the same pod and port; Linkerd silently keeps only the oldest one.',
  },
  'linkerd-probes-need-route': {
    code: 'PC4106',
    severity: 'warning',
    summary: 'A Linkerd Server gets routes, so kubelet probes on that port are no longer authorized automatically.',
  },
  'linkerd-grpcroute-crd': {
    code: 'PC4107',
    severity: 'warning',
    summary: 'Per-method gRPC rules need the Gateway API GRPCRoute CRD, which linkerd-crds installs only with installGatewayAPI.',
  },
  'linkerd-invalid-object': {
    code: 'PC4108',
    severity: 'error',
    summary: "An emitted Linkerd object fails a check of Linkerd's admission webhook or policy index (a policyc bug: please report it).",
  },
  'linkerd-name-collision': {
    code: 'PC4109',
    severity: 'error',
    summary: 'Two different Linkerd objects would get the same name; rename a service or port.',
  },
  'linkerd-route-too-large': {
    code: 'PC4110',
    severity: 'error',
    summary: 'The paths of one port need a route match longer than the 1024 characters a route allows.',
  },
  'linkerd-remote-ip': {
    code: 'PC4115',
    severity: 'error',
    summary: 'Linkerd has no original-client-address (X-Forwarded-For) match: `remoteIpBlocks(...)` cannot be built for Linkerd.',
  },
  'linkerd-istio-gateway': {
    code: 'PC4116',
    severity: 'error',
    summary: 'An Istio ingress gateway is an Istio component: Linkerd output cannot name it as a caller or destination (a Gateway API gateway compiles).',
  },
  'linkerd-both-in-deny': {
    code: 'PC4117',
    severity: 'error',
    summary: 'Linkerd cannot subtract an identity-AND-network deny (`both(...)`) from what it allows.',
  },
  'linkerd-raw-path-deny': {
    code: 'PC4125',
    severity: 'error',
    summary: 'A deny on a path that Linkerd, which matches the raw path, would let percent-encoded or dot-segment variants past.',
  },
  'linkerd-tcp-probe': {
    code: 'PC4126',
    severity: 'warning',
    summary: 'A TCP probe on Linkerd always succeeds while the proxy runs: it no longer tests the application.',
  },
  'linkerd-probe-networks-open': {
    code: 'PC4127',
    severity: 'warning',
    summary: 'The probe networks cover every address: on Linkerd any client can GET a probe path.',
  },
  'linkerd-admin-port-closed': {
    code: 'PC4128',
    severity: 'warning',
    summary: "Default deny also closes the Linkerd proxy's admin port 4191, where linkerd-viz's Prometheus scrapes.",
  },
  'linkerd-request-identity': {
    code: 'PC4111',
    severity: 'error',
    summary: "A rule names a request identity (end-user JWT); Linkerd authorizes only the calling workload, never a request's token.",
  },
  'linkerd-header-condition': {
    code: 'PC4112',
    severity: 'error',
    summary:
      "A deny rule's prefix or present header condition: Linkerd matches it with a regular expression, which a header value with bytes outside visible ASCII escapes; deny exact values.",
  },
  'linkerd-mesh-scope': {
    code: 'PC4133',
    severity: 'error',
    summary: "`scope: 'mesh'` on Linkerd, which has no mesh-wide policy object: namespaces the policy does not list would keep accepting plaintext.",
  },
  'linkerd-audit-strict': {
    code: 'PC4134',
    severity: 'error',
    summary: "An audited port is STRICT; Linkerd's audit policy admits the plaintext clients STRICT refuses.",
  },
  'linkerd-gateway-account': {
    code: 'PC4140',
    severity: 'error',
    summary:
      "A Gateway API gateway calls services on Linkerd with Istio's default service account `<name>-istio`; write the account your gateway's pods run as.",
  },
  'linkerd-header-combinations': {
    code: 'PC4145',
    severity: 'error',
    summary: 'The header conditions on one Linkerd port have too many combinations of value classes to split its routes exactly.',
  },

  // 42xx Istio ambient target
  'ambient-mtls-disable': {
    code: 'PC4201',
    severity: 'error',
    summary: "A port's mTLS mode is DISABLE, which ambient ignores: ztunnel always uses mTLS (HBONE) between ambient pods.",
  },
  'ambient-port-mtls': {
    code: 'PC4202',
    severity: 'warning',
    summary: 'A port-level mTLS mode: ztunnel honours it only in Istio releases that merge port exceptions (1.25 and later).',
  },
  'ambient-waypoint-plaintext': {
    code: 'PC4203',
    severity: 'error',
    summary: 'A service whose rules need a waypoint (methods or paths) accepts plaintext clients, which do not pass through the waypoint.',
  },
  'ambient-waypoint-account': {
    code: 'PC4204',
    severity: 'error',
    summary: "A service runs as the service account 'waypoint' in a namespace where policyc deploys a waypoint of that name.",
  },
  'ambient-gateway': {
    code: 'PC4213',
    severity: 'error',
    summary: 'A gateway in an ambient build: the istio-ambient target does not model gateways or remoteIpBlocks.',
  },
  'ambient-spiffe-path': {
    code: 'PC4214',
    severity: 'error',
    summary: 'A SPIFFE ID that is not `spiffe://<td>/ns/<ns>/sa/<sa>`: ztunnel carries only Kubernetes workload identities.',
  },
  'ambient-request-identity': {
    code: 'PC4210',
    severity: 'error',
    summary: 'A rule names a request identity (end-user JWT), which the ambient target does not compile yet.',
  },
  'ambient-dry-run-version': {
    code: 'PC4220',
    severity: 'warning',
    summary: 'An audited service on ambient: ztunnel ignores dry-run AuthorizationPolicies only from Istio 1.25; older releases enforce them.',
  },
  'ambient-port-default-action': {
    code: 'PC4221',
    severity: 'error',
    summary: 'The ports of one service have different defaultActions, which the istio-ambient target does not compile.',
  },
  'unknown-target': { code: 'PC5001', severity: 'error', summary: 'The requested target does not exist.' },
  // 5xxx CLI
  'output-write-failed': { code: 'PC5002', severity: 'error', summary: 'The output folder could not be written.' },
  'internal-error': { code: 'PC5003', severity: 'error', summary: 'policyc itself failed (a bug: please report it).' },
  'entry-not-a-file': { code: 'PC5004', severity: 'error', summary: 'The entry is a folder or another non-file; pass the policy entry file.' },
  'entry-wrong-type': {
    code: 'PC5005',
    severity: 'error',
    summary: 'The entry is not a TypeScript file (`.js`, `.json`, `.yaml`, …); pass the `.ts` entry whose default export is `mesh({...})`.',
  },
  'invalid-option': { code: 'PC5006', severity: 'error', summary: "A flag's value is malformed (for example `--eval-timeout abc`)." },
  'unsafe-output-folder': {
    code: 'PC5007',
    severity: 'error',
    summary: '`--out` is a filesystem root, the home folder, a repository root, or holds the policy itself.',
  },
  'foreign-output-files': {
    code: 'PC5008',
    severity: 'error',
    summary: 'The output folder holds files policyc did not write; move them, or pass `--adopt` to take the folder over.',
  },
  'output-symlink': { code: 'PC5009', severity: 'error', summary: 'The output folder is, or holds, a symbolic link, which policyc never writes through.' },
  'output-locked': { code: 'PC5010', severity: 'error', summary: 'Another policyc build is writing the same output folder.' },
  'output-interrupted': {
    code: 'PC5011',
    severity: 'error',
    summary: 'The output folder holds a build that was interrupted; `policyc build` repairs it.',
  },
  'output-repaired': { code: 'PC5012', severity: 'warning', summary: 'The previous build into the output folder was interrupted; this build repaired it.' },
  'unresolved-policy-import': {
    code: 'PC5020',
    severity: 'error',
    summary: 'A relative import of policy code names no TypeScript policy file policyc can load (a JavaScript or declaration file).',
  },
  'init-would-overwrite': {
    code: 'PC5021',
    severity: 'error',
    summary: '`policyc init` found policy files where it would write its starter; it changes nothing.',
  },
  // 60xx import (manifests → typed policy)
  'import-malformed-yaml': { code: 'PC6001', severity: 'error', summary: 'An imported file is not valid YAML.' },
  'import-not-policy': {
    code: 'PC6002',
    severity: 'warning',
    summary: 'An imported manifest is neither a mesh policy nor a workload object policyc reads; it is ignored.',
  },
  'import-unknown-version': {
    code: 'PC6003',
    severity: 'error',
    summary: 'An imported policy kind has an apiVersion policyc does not read.',
  },
  'import-invalid-object': {
    code: 'PC6004',
    severity: 'error',
    summary: 'An imported manifest lacks a field the cluster requires, or a field has the wrong type.',
  },
  'import-inexpressible': {
    code: 'PC6005',
    severity: 'warning',
    summary: 'Part of an imported policy has no equivalent in the policy language; it is kept as a comment.',
  },
  'import-no-workload': {
    code: 'PC6006',
    severity: 'warning',
    summary: 'An imported policy selects no workload of the imported manifests, so it cannot be attached to a service.',
  },
  'import-not-equivalent': {
    code: 'PC6007',
    severity: 'error',
    summary: 'The compiled policy decides a request differently from the original manifests.',
  },
  'import-no-input': { code: 'PC6008', severity: 'error', summary: 'No manifest file was found to import.' },
  'import-replaced': {
    code: 'PC6009',
    severity: 'warning',
    summary: 'Two imported objects have the same kind, namespace and name; the later one replaces the earlier, as `kubectl apply` would.',
  },
} as const satisfies Record<string, CatalogEntry>;

export type DiagnosticId = keyof typeof catalog;

/** The catalog entry of a code (`PC4106`), if policyc has one: what acknowledgements are checked against. */
export function catalogEntryOfCode(code: string): (CatalogEntry & { readonly id: DiagnosticId }) | undefined {
  for (const [id, entry] of Object.entries(catalog) as [DiagnosticId, CatalogEntry][]) if (entry.code === code) return { ...entry, id };
  return undefined;
}
