/**
 * The authorization algebra of the Linkerd target. A Linkerd grant (one AuthorizationPolicy) is a
 * `Term`: an identity set (one MeshTLSAuthentication, or none = clients with or without identity)
 * AND a network set (one NetworkAuthentication, or none = every address). Several grants on one
 * target are ORed. Model sources become terms; deny rules are subtracted from terms exactly, or the
 * subtraction is refused with a reason (Linkerd has no deny).
 * @internal
 */
import { DEFAULT_LINKERD_CONTROL_PLANE, type IdentitySourceModel, type MtlsMode, type RuleModel, type ServiceModel, type SourceModel } from '../../model/model';
import { compareStrings } from '../../model/compare';
import { parseSpiffeId, sourceIdentity } from '../../model/resolve';
import { parseCidr, type Cidr } from '../../model/cidr';
import { ALL_NETWORKS, type NetEntry, netEntryKey, subtractBlock } from './cidr';

export type IdPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'ns'; readonly ns: string }
  | { readonly kind: 'sa'; readonly ns: string; readonly sa: string }
  /** A literal identity outside the mesh's trust domain: a SPIFFE URI, or another trust domain's workload name. */
  | { readonly kind: 'exact'; readonly id: string; readonly trustDomain: string }
  /** Every Kubernetes workload of a trust domain: `*.serviceaccount.identity.linkerd.<td>` (a label-suffix match). */
  | { readonly kind: 'td'; readonly trustDomain: string; readonly local: boolean };

export interface Term {
  /** null: no identity needed (plaintext clients pass). Never empty. */
  readonly ids: readonly IdPattern[] | null;
  /** null: every address. Never empty. */
  readonly nets: readonly NetEntry[] | null;
  /** Ids of the allow rules this grant comes from (for diagnostics). */
  readonly rules: readonly string[];
}

/** One source of a deny rule, as the clients it removes. */
export type DenyPiece =
  | { readonly kind: 'everyone'; readonly rule: RuleModel }
  | { readonly kind: 'identity'; readonly id: IdPattern; readonly rule: RuleModel }
  | { readonly kind: 'network'; readonly cidr: Cidr; readonly rule: RuleModel };

export interface Refusal {
  readonly deny: RuleModel;
  readonly allowRules: readonly string[];
  readonly reason: string;
}

/** The Linkerd identity string (doc §9): `<sa>.<ns>.serviceaccount.identity.<control plane>.<td>`. */
export function identityString(id: IdPattern, trustDomain: string, controlPlane: string = DEFAULT_LINKERD_CONTROL_PLANE): string {
  switch (id.kind) {
    case 'any':
      return '*';
    case 'ns':
      return `*.${id.ns}.serviceaccount.identity.${controlPlane}.${trustDomain}`;
    case 'sa':
      return `${id.sa}.${id.ns}.serviceaccount.identity.${controlPlane}.${trustDomain}`;
    case 'exact':
      return id.id;
    case 'td':
      return `*.serviceaccount.identity.${controlPlane}.${id.trustDomain}`;
    default:
      return id satisfies never;
  }
}

/**
 * The Linkerd identity of a SPIFFE ID's holder: a Kubernetes workload's DNS-like name, else the URI itself (doc §4, §9).
 * Another trust domain's workload is named with the same control-plane namespace (as the simulator assumes).
 */
export function spiffeIdentity(id: string, meshTrustDomain: string, controlPlane: string = DEFAULT_LINKERD_CONTROL_PLANE): IdPattern | undefined {
  const peer = parseSpiffeId(id);
  if (peer === undefined) return undefined;
  if (peer.namespace !== undefined && peer.serviceAccount !== undefined) {
    if (peer.trustDomain === meshTrustDomain) return { kind: 'sa', ns: peer.namespace, sa: peer.serviceAccount };
    return {
      kind: 'exact',
      id: `${peer.serviceAccount}.${peer.namespace}.serviceaccount.identity.${controlPlane}.${peer.trustDomain}`,
      trustDomain: peer.trustDomain,
    };
  }
  return { kind: 'exact', id, trustDomain: peer.trustDomain };
}

/** Human text for an identity pattern, in the model's words. */
function describeId(id: IdPattern): string {
  switch (id.kind) {
    case 'any':
      return 'any authenticated identity';
    case 'ns':
      return `every identity in namespace ${id.ns}`;
    case 'sa':
      return `identity ${id.ns}/${id.sa}`;
    case 'exact':
      return `identity ${id.id}`;
    case 'td':
      return `every identity of trust domain ${id.trustDomain}`;
    default:
      return id satisfies never;
  }
}

function idKey(id: IdPattern): string {
  switch (id.kind) {
    case 'any':
      return '*';
    case 'ns':
      return `ns:${id.ns}`;
    case 'sa':
      return `sa:${id.ns}/${id.sa}`;
    case 'exact':
      return `exact:${id.id}`;
    case 'td':
      return `td:${id.trustDomain}`;
    default:
      return id satisfies never;
  }
}

/**
 * Does `outer` match every client `inner` matches, as Linkerd matches them? A trust domain's suffix covers its
 * Kubernetes workloads' DNS-like names, never a SPIFFE URI (the suffix match reads DNS labels, linkerd.md §4).
 */
function coversId(outer: IdPattern, inner: IdPattern): boolean {
  if (outer.kind === 'any') return true;
  if (inner.kind === 'any') return false;
  switch (outer.kind) {
    case 'ns':
      return (inner.kind === 'ns' || inner.kind === 'sa') && inner.ns === outer.ns;
    case 'sa':
      return inner.kind === 'sa' && inner.ns === outer.ns && inner.sa === outer.sa;
    case 'exact':
      return inner.kind === 'exact' && inner.id === outer.id;
    case 'td':
      return (
        (inner.kind === 'td' && inner.trustDomain === outer.trustDomain) ||
        (inner.kind === 'exact' && inner.trustDomain === outer.trustDomain && !inner.id.startsWith('spiffe://')) ||
        (outer.local && (inner.kind === 'ns' || inner.kind === 'sa'))
      );
    default:
      return outer satisfies never;
  }
}

function overlapsId(a: IdPattern, b: IdPattern): boolean {
  return coversId(a, b) || coversId(b, a);
}

/** Deduplicated, subsumed patterns dropped, sorted: one canonical identity list. */
function simplifyIds(ids: readonly IdPattern[]): IdPattern[] {
  const unique = new Map(ids.map((id) => [idKey(id), id]));
  const kept = [...unique.values()].filter((id) => ![...unique.values()].some((o) => idKey(o) !== idKey(id) && coversId(o, id)));
  return kept.sort((a, b) => compareStrings(idKey(a), idKey(b)));
}

export function termKey(term: Pick<Term, 'ids' | 'nets'>): string {
  const ids = term.ids === null ? '-' : term.ids.map(idKey).join(',');
  return `${ids}|${netsKey(term.nets)}`;
}

function netsKey(nets: readonly NetEntry[] | null): string {
  return nets === null ? '-' : nets.map(netEntryKey).sort().join(',');
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareStrings);
}

export interface SourceContext {
  readonly mode: MtlsMode;
  /** The mesh's trust domain. */
  readonly trustDomain: string;
  /** Linkerd's control-plane namespace (absent: the default), part of every identity name. */
  readonly controlPlane?: string;
  /** Every SPIFFE ID outside Kubernetes the model names, so that a trust domain also lists those of its own. */
  readonly namedSpiffeIds: readonly string[];
  readonly services: ReadonlyMap<string, ServiceModel>;
  /** Reports a source that names an undeclared service or an invalid CIDR. */
  readonly invalidSource: (rule: RuleModel, source: SourceModel, why: string) => void;
}

/**
 * The grants for one allow rule on one port (doc §3, §10): identity sources as one MeshTLS term;
 * `anyone` as any identity on a STRICT port (plaintext is refused there) or every address otherwise;
 * ipBlocks as a network term that on a STRICT port also requires an identity. Separate terms are
 * separate AuthorizationPolicies (ORed), never refs of one policy (ANDed).
 */
export function allowTerms(rule: RuleModel, ctx: SourceContext): Term[] {
  const strict = ctx.mode === 'STRICT';
  const ids: IdPattern[] = [];
  const blocks: Cidr[] = [];
  const combined: Term[] = [];
  let anyone = false;
  for (const source of rule.sources) {
    switch (source.kind) {
      case 'anyone':
        anyone = true;
        break;
      case 'ipBlock': {
        const cidr = parseCidr(source.cidr);
        if (cidr === undefined) ctx.invalidSource(rule, source, `'${source.cidr}' is not a valid IPv4 or IPv6 CIDR`);
        else blocks.push(cidr);
        break;
      }
      case 'remoteIpBlock':
        // Refused before compiling (PC4115): Linkerd has no original-client-address match.
        break;
      case 'requestIdentity':
        // Refused before compiling (PC4111): Linkerd authorizes the calling workload, never a request's token.
        break;
      case 'both': {
        // One AuthorizationPolicy whose refs are a MeshTLSAuthentication AND a NetworkAuthentication: all must match (§3).
        const pattern = identityOf(source.identity, ctx);
        const cidrs = source.cidrs.map((c) => parseCidr(c));
        if (pattern === undefined) ctx.invalidSource(rule, source, 'it names a service that is not declared');
        else if (cidrs.some((c) => c === undefined)) ctx.invalidSource(rule, source, `'${source.cidrs.join(', ')}' holds an invalid CIDR`);
        else combined.push({ ids: simplifyIds(pattern), nets: (cidrs as Cidr[]).map((cidr) => ({ cidr, except: [] })), rules: [rule.id] });
        break;
      }
      default: {
        const id = identityOf(source, ctx);
        if (id === undefined) ctx.invalidSource(rule, source, 'it names a service that is not declared');
        else ids.push(...id);
      }
    }
  }
  const rules = [rule.id];
  const terms: Term[] = [...combined];
  if (anyone) terms.push(strict ? { ids: [{ kind: 'any' }], nets: null, rules } : { ids: null, nets: ALL_NETWORKS, rules });
  if (ids.length > 0) terms.push({ ids: simplifyIds(ids), nets: null, rules });
  if (blocks.length > 0) {
    const nets = blocks.map((cidr) => ({ cidr, except: [] }));
    terms.push({ ids: strict ? [{ kind: 'any' }] : null, nets, rules });
  }
  return terms;
}

/** What `defaultAction: 'allow'` grants on a port: every client the port's mTLS mode admits. */
export function everyoneTerm(mode: MtlsMode): Term {
  return mode === 'STRICT' ? { ids: [{ kind: 'any' }], nets: null, rules: [] } : { ids: null, nets: ALL_NETWORKS, rules: [] };
}

/** The identity patterns of a source of identity; undefined when it names an undeclared service or no SPIFFE ID. */
function identityOf(source: IdentitySourceModel, ctx: SourceContext): IdPattern[] | undefined {
  switch (source.kind) {
    case 'service':
    case 'identity': {
      const identity = sourceIdentity(source, ctx.services);
      return identity === undefined ? undefined : [{ kind: 'sa', ns: identity.namespace, sa: identity.serviceAccount }];
    }
    case 'namespace':
      return [{ kind: 'ns', ns: source.namespace }];
    case 'authenticated':
      return [{ kind: 'any' }];
    case 'spiffe': {
      const id = spiffeIdentity(source.id, ctx.trustDomain, ctx.controlPlane);
      return id === undefined ? undefined : [id];
    }
    case 'trustDomain': {
      // Linkerd's suffix match reads DNS labels, so a URI identity is matched only exactly: list the named ones (§4).
      const uris = ctx.namedSpiffeIds
        .map((id) => spiffeIdentity(id, ctx.trustDomain, ctx.controlPlane))
        .filter(
          (id): id is Extract<IdPattern, { kind: 'exact' }> => id?.kind === 'exact' && id.trustDomain === source.trustDomain && id.id.startsWith('spiffe://'),
        );
      return [{ kind: 'td', trustDomain: source.trustDomain, local: source.trustDomain === ctx.trustDomain }, ...uris];
    }
    default:
      return source satisfies never;
  }
}

/** The clients one deny rule removes, source by source. */
export function denyPieces(rule: RuleModel, ctx: SourceContext): DenyPiece[] {
  const pieces: DenyPiece[] = [];
  for (const source of rule.sources) {
    if (source.kind === 'anyone') pieces.push({ kind: 'everyone', rule });
    else if (source.kind === 'ipBlock') {
      const cidr = parseCidr(source.cidr);
      if (cidr === undefined) ctx.invalidSource(rule, source, `'${source.cidr}' is not a valid IPv4 or IPv6 CIDR`);
      else pieces.push({ kind: 'network', cidr, rule });
    } else if (source.kind === 'both' || source.kind === 'remoteIpBlock' || source.kind === 'requestIdentity') {
      // Refused before compiling (PC4115, PC4117, PC4111).
    } else {
      const ids = identityOf(source, ctx);
      if (ids === undefined) ctx.invalidSource(rule, source, 'it names a service that is not declared');
      else for (const id of ids) pieces.push({ kind: 'identity', id, rule });
    }
  }
  return pieces;
}

/** One network list admitting what any of the lists admits (entries are ORed, linkerd.md §5); null (every address) absorbs the rest. */
function unionNets(lists: readonly (readonly NetEntry[] | null)[]): NetEntry[] | null {
  if (lists.some((list) => list === null)) return null;
  const nets = new Map<string, NetEntry>();
  for (const list of lists) for (const entry of list ?? []) nets.set(netEntryKey(entry), entry);
  return [...nets.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, e]) => e);
}

/**
 * Merges grants without changing what they admit: terms with the same network set share one
 * identity list; terms with the same identity list (none included) share one network list, since
 * (ids AND n1) OR (ids AND n2) is ids AND (n1 OR n2) (refs ANDed, policies ORed: linkerd.md §3, §5).
 * Fewer, stable objects.
 */
function mergeTerms(terms: readonly Term[]): Term[] {
  const byIds = new Map<string, Term>();
  for (const merged of mergeByNets(terms)) {
    // A grant without identity always names its networks (every address written out), as before the merge.
    const term = merged.ids === null && merged.nets === null ? { ...merged, nets: ALL_NETWORKS } : merged;
    const key = term.ids === null ? '-' : term.ids.map(idKey).join(',');
    const previous = byIds.get(key);
    byIds.set(
      key,
      previous === undefined ? term : { ids: term.ids, nets: unionNets([previous.nets, term.nets]), rules: uniqueSorted([...previous.rules, ...term.rules]) },
    );
  }
  return [...byIds.values()].sort((a, b) => compareStrings(termKey(a), termKey(b)));
}

function mergeByNets(terms: readonly Term[]): Term[] {
  const byNets = new Map<string, Term>();
  for (const term of terms) {
    const key = netsKey(term.nets);
    const previous = byNets.get(key);
    if (previous === undefined) byNets.set(key, term);
    else
      byNets.set(key, {
        ids: previous.ids === null || term.ids === null ? null : simplifyIds([...previous.ids, ...term.ids]),
        nets: term.nets,
        rules: uniqueSorted([...previous.rules, ...term.rules]),
      });
  }
  return [...byNets.values()];
}

/**
 * Grants minus what one deny piece removes, exactly, or a refusal. Exact cases: a deny that
 * overlaps nothing (no-op); an ipBlock (becomes an `except`); `anyone`; an identity pattern that
 * removes whole entries of an identity list (an exact account, or a namespace wildcard with only
 * its own accounts listed). Refused: removing part of a wildcard (`*`, `*.ns…`) or of a grant that
 * needs no identity, since Linkerd cannot say "all of these except that one".
 */
function subtract(terms: readonly Term[], piece: DenyPiece): { terms: Term[]; refusals: Refusal[] } {
  const out: Term[] = [];
  const refusals: Refusal[] = [];
  for (const term of terms) {
    switch (piece.kind) {
      case 'everyone':
        break;
      case 'network': {
        const nets = subtractBlock(term.nets ?? ALL_NETWORKS, piece.cidr);
        if (nets.length > 0) out.push({ ...term, nets });
        break;
      }
      case 'identity': {
        if (term.ids === null) {
          refusals.push({
            deny: piece.rule,
            allowRules: term.rules,
            reason:
              term.rules.length === 0
                ? `defaultAction 'allow' admits every client, and Linkerd cannot admit every client except ${describeId(piece.id)}`
                : `the allowed callers include clients without an identity, and Linkerd cannot admit them while refusing ${describeId(piece.id)}`,
          });
          out.push(term);
          break;
        }
        const kept: IdPattern[] = [];
        let refused: IdPattern | undefined;
        for (const id of term.ids) {
          if (coversId(piece.id, id)) continue;
          if (overlapsId(id, piece.id)) refused = id;
          kept.push(id);
        }
        if (refused !== undefined) {
          refusals.push({
            deny: piece.rule,
            allowRules: term.rules,
            reason:
              term.rules.length === 0
                ? `defaultAction 'allow' admits ${describeId(refused)}, and a Linkerd identity list cannot exclude ${describeId(piece.id)} from it`
                : `an allow admits ${describeId(refused)}, a wildcard that also covers ${describeId(piece.id)}, and a Linkerd identity list cannot exclude part of a wildcard`,
          });
        }
        if (kept.length > 0) out.push({ ...term, ids: kept });
        break;
      }
      default:
        return piece satisfies never;
    }
  }
  return { terms: out, refusals };
}

export function subtractAll(terms: readonly Term[], pieces: readonly DenyPiece[]): { terms: Term[]; refusals: Refusal[] } {
  let current = mergeTerms(terms);
  const refusals: Refusal[] = [];
  for (const piece of pieces) {
    const step = subtract(current, piece);
    current = step.terms;
    refusals.push(...step.refusals);
  }
  return { terms: mergeTerms(current), refusals };
}
