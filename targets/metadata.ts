/**
 * The metadata every target gives its objects: the managed-by label (one fact, model/target.ts) and the
 * annotation naming the policy lines the object implements.
 */
import type { NamespaceModel, PolicyModel, RuleModel, ServiceModel, SourceModel } from '../model/model';
import { escapeInvisible, printableName } from '../model/printable';
import { MANAGED_BY, SOURCE_ANNOTATION, type KubernetesObject } from '../model/target';

/** A declaration of the policy an object implements: its file, and the declaration in words. */
export interface Origin {
  readonly file: string | undefined;
  readonly what: string;
}

function sourceWords(source: SourceModel): string {
  switch (source.kind) {
    case 'service':
      return source.service;
    case 'namespace':
      return `namespace ${source.namespace}`;
    case 'identity':
      return `identity ${source.namespace}/${source.serviceAccount}`;
    case 'authenticated':
    case 'anyone':
      return source.kind;
    case 'ipBlock':
      return source.cidr;
    case 'spiffe':
      return source.id;
    case 'trustDomain':
      return `trust domain ${source.trustDomain}`;
    case 'both':
      return `${sourceWords(source.identity)} from ${source.cidrs.join(' ')}`;
    case 'remoteIpBlock':
      return `client ${source.cidr}`;
    case 'requestIdentity':
      return `jwt ${source.issuer}/${source.subject ?? '*'}`;
    default:
      return source satisfies never;
  }
}

/** A rule as `allow(shop/frontend) to shop/checkout`: what it says, not where (line numbers would churn). */
export function ruleOrigin(rule: RuleModel): Origin {
  return { file: rule.location?.file, what: `${rule.action}(${rule.sources.map(sourceWords).join(', ')}) to ${rule.destination}` };
}

export function serviceOrigin(service: ServiceModel): Origin {
  return { file: service.location?.file, what: `service ${service.id}` };
}

export function namespaceOrigin(namespace: NamespaceModel): Origin {
  return { file: namespace.location?.file, what: `namespace ${namespace.name}` };
}

/** The mesh settings (mTLS, default action) of the entry. */
export function meshOrigin(model: PolicyModel): Origin {
  return { file: model.mesh.location?.file, what: 'mesh' };
}

/** An origin's text in the annotation, made once per origin object (a target that reuses its origins names each in many objects). */
const originTexts = new WeakMap<Origin, string>();
function originText(o: Origin): string {
  let text = originTexts.get(o);
  if (text === undefined) originTexts.set(o, (text = o.file === undefined ? o.what : `${printableName(o.file)}: ${o.what}`));
  return text;
}

/** The annotation's value: `file: declaration`, deduplicated, sorted, `; `-separated; undefined when none. */
export function sourceText(origins: Iterable<Origin | undefined>): string | undefined {
  const texts = new Set<string>();
  for (const o of origins) if (o !== undefined) texts.add(originText(o));
  // Names in rules are validated, but the annotation is output text: nothing in it may break a line.
  return texts.size === 0 ? undefined : escapeInvisible([...texts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join('; '));
}

/** Metadata of an emitted object: name, namespace, the managed-by label, the target's own annotations and the source annotation. */
export function objectMetadata(
  name: string,
  namespace: string | undefined,
  origins: Iterable<Origin | undefined>,
  labels: Readonly<Record<string, string>> = {},
  annotations: Readonly<Record<string, string>> = {},
): KubernetesObject['metadata'] {
  const source = sourceText(origins);
  const all = { ...annotations, ...(source === undefined ? {} : { [SOURCE_ANNOTATION]: source }) };
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    labels: { ...MANAGED_BY, ...labels },
    ...(Object.keys(all).length === 0 ? {} : { annotations: all }),
  };
}

/**
 * The rollout note's sentence about objects a revocation deletes: `kubectl apply` without pruning leaves
 * them in the cluster, where they keep granting, so the revocation takes effect only once they are pruned.
 */
export function prunedNote(removed: readonly string[]): string {
  if (removed.length === 0) return '';
  const it = removed.length === 1 ? 'it is' : 'they are';
  return ` The change deletes ${removed.join(', ')}: the call stays allowed until ${it} pruned from the cluster (a plain \`kubectl apply\` leaves ${removed.length === 1 ? 'it' : 'them'} in place; see README "Applying the output").`;
}
