/**
 * What a value out of policy code must look like before anything reads it: the shape, type and size of every
 * field of every DSL declaration, and every closed vocabulary (modes, actions, protocols, methods). A cast
 * (`'Deny' as DefaultAction`, `ipBlocks(10 as any)`) gets past the type checker, never past this.
 *
 * Sizes are bounds against abuse, not the rules of Kubernetes names: those (DNS labels, label syntax, CIDR
 * syntax, paths) are the validator's (compiler/check-model.ts), which reads only values that passed here.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { compiledFile } from '../package-files';
import type { AccessRule, AnyService, MeshPolicy, Namespace, PolicyAssertion } from '../../dsl';

/** A value the evaluator could not carry as JSON (a function, `undefined` in an array, NaN, a symbol...). */
export class OpaqueValue {
  constructor(readonly description: string) {}
}

/** Longest string accepted anywhere; Kubernetes names and labels are far shorter (the validator says so). */
export const MAX_TEXT = 1024;
/** Longest request path accepted. */
export const MAX_PATH = 4096;
/** Longest inline JSON Web Key Set accepted. */
export const MAX_JWKS = 65536;

const MTLS = ['STRICT', 'PERMISSIVE', 'DISABLE'];
const PROTOCOLS = ['http', 'http2', 'grpc', 'tcp'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const text = { type: 'string', maxLength: MAX_TEXT };
const DEFAULT_ACTIONS = ['allow', 'deny'];
// Keys are checked against the diagnostic catalog by the validator, which can say which code is unknown and where.
const acknowledge = { type: 'object', maxProperties: 64, propertyNames: text, additionalProperties: text };
const path = { type: 'string', maxLength: MAX_PATH };
const site = {
  type: 'object',
  required: ['file', 'line', 'column'],
  properties: { file: text, line: { type: 'integer' }, column: { type: 'integer' } },
};
const namespace = {
  type: 'object',
  required: ['kind', 'name'],
  properties: {
    kind: { const: 'namespace' },
    name: text,
    mtls: { enum: MTLS },
    defaultAction: { enum: DEFAULT_ACTIONS },
    enforcement: { enum: ['enforce', 'audit'] },
    site,
  },
};
const service = {
  type: 'object',
  required: ['kind', 'namespace', 'name', 'serviceAccount', 'selector', 'ports'],
  properties: {
    kind: { const: 'service' },
    namespace,
    name: text,
    serviceAccount: text,
    selector: { type: 'object', maxProperties: 64, propertyNames: text, additionalProperties: text },
    ports: {
      type: 'object',
      maxProperties: 1024,
      propertyNames: text,
      additionalProperties: {
        type: 'object',
        required: ['port', 'protocol'],
        properties: {
          port: { type: 'integer' },
          protocol: { enum: PROTOCOLS },
          mtls: { enum: MTLS },
          probes: {
            type: 'object',
            additionalProperties: false,
            properties: Object.fromEntries(
              ['readiness', 'liveness', 'startup'].map((kind) => [
                kind,
                {
                  oneOf: [
                    { type: 'object', required: ['path'], additionalProperties: false, properties: { path: text } },
                    { type: 'object', required: ['tcp'], additionalProperties: false, properties: { tcp: { const: true } } },
                  ],
                },
              ]),
            ),
          },
          defaultAction: { enum: DEFAULT_ACTIONS },
          acknowledge,
        },
      },
    },
    mtls: { enum: MTLS },
    defaultAction: { enum: DEFAULT_ACTIONS },
    enforcement: { enum: ['enforce', 'audit'] },
    gateway: {
      type: 'object',
      required: ['kind', 'numTrustedProxies'],
      properties: { kind: { enum: ['istio-ingress', 'gateway-api'] }, numTrustedProxies: { type: 'integer', minimum: 0, maximum: 64 } },
    },
    site,
  },
};
const cidrList = { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'string', maxLength: 64 } };
const ipBlocks = { type: 'object', required: ['kind', 'cidrs'], properties: { kind: { const: 'ipBlocks' }, cidrs: cidrList, site } };
const identityPeers = [
  { type: 'object', properties: { kind: { const: 'authenticated' } } },
  { type: 'object', required: ['namespace', 'serviceAccount'], properties: { kind: { const: 'identity' }, namespace: text, serviceAccount: text, site } },
  { type: 'object', required: ['id'], properties: { kind: { const: 'spiffe' }, id: text, site } },
  { type: 'object', required: ['trustDomain'], properties: { kind: { const: 'trustDomain' }, trustDomain: text, site } },
];
const identitySource = { type: 'object', required: ['kind'], discriminator: { propertyName: 'kind' }, oneOf: [service, namespace, ...identityPeers] };
const peers = [
  { type: 'object', properties: { kind: { const: 'anyone' } } },
  ipBlocks,
  ...identityPeers,
  { type: 'object', required: ['identity', 'network'], properties: { kind: { const: 'both' }, identity: identitySource, network: ipBlocks, site } },
  { type: 'object', required: ['cidrs'], properties: { kind: { const: 'remoteIpBlocks' }, cidrs: cidrList, site } },
];
const jwtIssuer = {
  type: 'object',
  required: ['kind', 'issuer'],
  additionalProperties: false,
  properties: { kind: { const: 'jwtIssuer' }, issuer: text, jwksUri: text, jwks: { type: 'string', maxLength: MAX_JWKS }, site },
};
const requestIdentity = {
  type: 'object',
  required: ['kind', 'issuer'],
  additionalProperties: false,
  properties: {
    kind: { const: 'requestIdentity' },
    issuer: jwtIssuer,
    subject: text,
    claims: { type: 'object', maxProperties: 64, propertyNames: text, additionalProperties: text },
    site,
  },
};
const headerCondition = {
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    { type: 'object', required: ['value'], additionalProperties: false, properties: { kind: { const: 'headerExact' }, value: text } },
    { type: 'object', required: ['value'], additionalProperties: false, properties: { kind: { const: 'headerPrefix' }, value: text } },
    { type: 'object', additionalProperties: false, properties: { kind: { const: 'headerPresent' } } },
  ],
};
const source = { type: 'object', required: ['kind'], discriminator: { propertyName: 'kind' }, oneOf: [service, namespace, ...peers, requestIdentity] };
const caller = {
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    service,
    namespace,
    ...peers,
    { type: 'object', properties: { kind: { const: 'plaintext' } } },
    { type: 'object', required: ['namespace'], properties: { kind: { const: 'outside' }, namespace } },
  ],
};
const list = (items: object, maxItems: number) => ({ type: 'array', maxItems, items });
const linkerdViz = {
  type: 'object',
  required: ['component', 'namespace'],
  properties: { kind: { const: 'linkerdViz' }, component: { const: 'prometheus' }, namespace: text, site },
};
const scraper = { type: 'object', required: ['kind'], discriminator: { propertyName: 'kind' }, oneOf: [service, identityPeers[1], linkerdViz, ipBlocks] };

const schemas = {
  mesh: {
    type: 'object',
    required: ['kind', 'trustDomain', 'mtls', 'defaultAction', 'rootNamespace', 'namespaces', 'services', 'rules', 'assertions'],
    properties: {
      kind: { const: 'mesh' },
      trustDomain: text,
      mtls: { enum: MTLS },
      defaultAction: { enum: DEFAULT_ACTIONS },
      rootNamespace: text,
      probeNetworks: list(text, 1024),
      scope: { enum: ['mesh', 'namespaces'] },
      everyMeshedNamespaceListed: { type: 'boolean' },
      linkerd: {
        type: 'object',
        properties: {
          controlPlaneNamespace: text,
          proxyAdmin: { type: 'object', required: ['scrapedBy'], properties: { scrapedBy: { ...list(scraper, 1024), minItems: 1 } } },
        },
      },
      // Entries are checked one by one (below), so each error points at its own declaration.
      namespaces: { type: 'array' },
      services: { type: 'array' },
      rules: { type: 'array' },
      assertions: { type: 'array' },
      site,
    },
  },
  namespace,
  service,
  rule: {
    type: 'object',
    required: ['kind', 'action', 'from', 'to'],
    properties: {
      kind: { const: 'rule' },
      action: { enum: ['allow', 'deny'] },
      from: list(source, 1024),
      to: service,
      ports: list(text, 1024),
      methods: list({ enum: METHODS }, 64),
      paths: list(path, 1024),
      headers: { type: 'object', maxProperties: 64, propertyNames: text, additionalProperties: headerCondition },
      name: text,
      acknowledge,
      site,
    },
  },
  assertion: {
    type: 'object',
    required: ['kind', 'expect', 'from', 'to'],
    properties: {
      kind: { const: 'assertion' },
      expect: { enum: ['reaches', 'neverReaches'] },
      from: caller,
      to: { type: 'object', required: ['kind'], discriminator: { propertyName: 'kind' }, oneOf: [service, namespace] },
      port: text,
      method: { enum: METHODS },
      path,
      site,
    },
  },
} as const;

export interface DeclarationTypes {
  readonly mesh: MeshPolicy;
  readonly namespace: Namespace;
  readonly service: AnyService;
  readonly rule: AccessRule;
  readonly assertion: PolicyAssertion;
}
export type DeclarationKind = keyof DeclarationTypes;

type Validators = { [K in DeclarationKind]: ValidateFunction };

const KINDS: readonly DeclarationKind[] = ['mesh', 'namespace', 'service', 'rule', 'assertion'];

/** Precompiled by the build (compiler/crd-precompile.ts), used only while its key matches these schemas. */
export const PRECOMPILED_POLICY_SCHEMA = compiledFile('compiler/evaluator/policy-schema-precompiled.js');

function newAjv(source: boolean): Ajv {
  // Opaque values (functions, NaN, undefined in an array) are objects here; no schema accepts them.
  return new Ajv({ discriminator: true, strict: false, allErrors: false, ...(source ? { code: { source: true } } : {}) });
}

/** The schemas and the ajv that compiles them, hashed: a precompiled module of other schemas is not used. */
function schemaKey(): string {
  return createHash('sha256')
    .update(JSON.stringify(schemas))
    .update(fs.readFileSync(require.resolve('ajv/package.json')))
    .digest('hex');
}

/** The validators as one CommonJS module of standalone ajv code, with the key of the schemas it was made from. */
export function precompilePolicySchema(): string {
  const ajv = newAjv(true);
  for (const kind of KINDS) ajv.addSchema(schemas[kind], kind);
  const code = standaloneCode(ajv, Object.fromEntries(KINDS.map((kind) => [kind, kind])));
  return `${code}\nexports.key = ${JSON.stringify(schemaKey())};\n`;
}

let compiled: Validators | undefined;
function validators(): Validators {
  if (compiled === undefined) {
    const precompiled = fs.existsSync(PRECOMPILED_POLICY_SCHEMA) ? (require(PRECOMPILED_POLICY_SCHEMA) as Validators & { key?: unknown }) : undefined;
    if (precompiled !== undefined && precompiled.key === schemaKey()) compiled = precompiled;
    else {
      const ajv = newAjv(false);
      compiled = {
        mesh: ajv.compile(schemas.mesh),
        namespace: ajv.compile(schemas.namespace),
        service: ajv.compile(schemas.service),
        rule: ajv.compile(schemas.rule),
        assertion: ajv.compile(schemas.assertion),
      };
    }
  }
  return compiled;
}

/** A value shown in a message: short, whatever its size or type. */
export function describeValue(value: unknown): string {
  if (value instanceof OpaqueValue) return value.description === 'undefined' ? 'undefined' : `a ${value.description}`;
  if (typeof value === 'string') {
    const shown = JSON.stringify(value.length > 40 ? value.slice(0, 40) : value);
    return value.length > 40 ? `${shown.slice(0, -1)}…" (${value.length} characters)` : shown;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function segmentsOf(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function fieldOf(segments: readonly string[]): string {
  const shown = segments
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${i === 0 ? '' : '.'}${p}` : `[${describeValue(p)}]`))
    .join('');
  return shown === '' ? 'the value' : `\`${shown}\``;
}

/** The builder call that made a declaration of each kind, as messages name it. */
export const BUILDER_OF: Readonly<Record<string, string>> = {
  mesh: 'mesh({...})',
  namespace: 'namespace(...)',
  service: 'service(...)',
  rule: 'allow(...).to(...) or deny(...).to(...)',
  assertion: 'reaches(...) or neverReaches(...)',
  ipBlocks: 'ipBlocks(...)',
  identity: 'identity(...)',
  spiffe: 'spiffe(...)',
  trustDomain: 'trustDomain(...)',
  both: 'both(...)',
  remoteIpBlocks: 'remoteIpBlocks(...)',
  linkerdViz: 'linkerdVizPrometheus(...)',
  jwtIssuer: 'jwtIssuer({...})',
  requestIdentity: 'requestIdentity(...)',
};

/** The innermost declaration on the way to a field (it has its own site), and the field's path from there. */
function ownerOf(root: unknown, segments: readonly string[]): { owner: Record<string, unknown>; rest: readonly string[] } {
  let owner = root as Record<string, unknown>;
  let rest = segments;
  let value: unknown = root;
  segments.forEach((segment, i) => {
    value =
      typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, segment)
        ? (value as Record<string, unknown>)[segment]
        : undefined;
    if (typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)['kind'] === 'string') {
      const record = value as Record<string, unknown>;
      if (BUILDER_OF[record['kind'] as string] !== undefined && record['site'] !== undefined) {
        owner = record;
        rest = segments.slice(i + 1);
      }
    }
  });
  return { owner, rest };
}

/** One sentence for ajv's first error: which field, what it must be, what it is. */
function explain(error: ErrorObject, root: unknown, rest: readonly string[]): string {
  const field = fieldOf(rest);
  const actual = valueAt(root, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'enum':
      return `${field} must be one of ${(params['allowedValues'] as unknown[]).map((v) => `'${String(v)}'`).join(', ')}, not ${describeValue(actual)}`;
    case 'const':
      return `${field} must be '${String(params['allowedValue'])}', not ${describeValue(actual)}`;
    case 'type':
      return `${field} must be ${params['type'] === 'integer' ? 'a whole number' : `a ${String(params['type'])}`}, not ${describeValue(actual)}`;
    case 'required':
      return `${field === 'the value' ? 'it' : field} has no \`${String(params['missingProperty'])}\``;
    case 'maxLength':
      return `${field} is ${typeof actual === 'string' ? actual.length : 'too many'} characters long, more than the ${String(params['limit'])} allowed`;
    case 'maxItems':
    case 'maxProperties':
      return `${field} has more than the ${String(params['limit'])} entries allowed`;
    case 'minItems':
      return `${field} must not be empty`;
    case 'propertyNames':
      return `${field} has a key longer than ${MAX_TEXT} characters`;
    case 'discriminator':
      return `${field}${error.instancePath === '' ? '' : ''} is not something policyc knows here (its \`kind\` is ${describeValue(valueAt(root, `${error.instancePath}/kind`))})`;
    default:
      return `${field} is not valid (${error.message ?? error.keyword})`;
  }
}

/**
 * Checks one declaration. Returns the value typed when it passes; otherwise a sentence saying what is wrong, and
 * the innermost declaration it is in (a namespace inside a service, an `ipBlocks(...)` inside a rule), whose
 * site is where the problem was written.
 */
export function checkDeclaration<K extends DeclarationKind>(
  kind: K,
  value: unknown,
): { ok: DeclarationTypes[K] } | { problem: string; owner: Record<string, unknown>; builder: string } {
  const validate = validators()[kind];
  if (validate(value)) return { ok: value as DeclarationTypes[K] };
  const first = validate.errors?.[0];
  const { owner, rest } = ownerOf(value, first === undefined ? [] : segmentsOf(first.instancePath));
  const builder = BUILDER_OF[owner['kind'] as string] ?? BUILDER_OF[kind] ?? kind;
  return { problem: first === undefined ? 'it is not valid' : explain(first, value, rest), owner, builder };
}
