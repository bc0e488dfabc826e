/**
 * Reading manifests to import: files, folders and standard input; multi-document YAML and `List` objects
 * (what `kubectl get … -o yaml` prints). Every object keeps where it was written (file and line), so each
 * diagnostic about it points at the YAML, and nothing here ever throws on bad input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { diagnostic, type Diagnostic, type Span } from '../diagnostics/diagnostic';
import type { ManifestObject } from '../verify/simulator';

/** The name standard input is shown under in diagnostics. */
export const STDIN_NAME = '<stdin>';

export interface ManifestText {
  /** Absolute path, or {@link STDIN_NAME}. */
  readonly file: string;
  readonly text: string;
}

/** One object read from a manifest, with where it was written. */
export interface ImportedObject {
  readonly object: ManifestObject;
  /** `Kind namespace/name`, as the simulators name objects. */
  readonly ref: string;
  /** The object's first line. */
  readonly span: Span;
  /** The span of a field inside the object (the object's span when the field is absent). */
  spanAt(fieldPath: readonly (string | number)[]): Span;
}

/** The kinds import reads, by API group (empty for the core group), with the versions it knows. */
export const READ_KINDS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  'security.istio.io': { PeerAuthentication: ['v1', 'v1beta1'], AuthorizationPolicy: ['v1', 'v1beta1'], RequestAuthentication: ['v1', 'v1beta1'] },
  'policy.linkerd.io': {
    Server: ['v1beta1', 'v1beta2', 'v1beta3'],
    ServerAuthorization: ['v1beta1'],
    AuthorizationPolicy: ['v1alpha1'],
    MeshTLSAuthentication: ['v1alpha1'],
    NetworkAuthentication: ['v1alpha1'],
    HTTPRoute: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'],
  },
  'gateway.networking.k8s.io': { HTTPRoute: ['v1', 'v1beta1', 'v1alpha2'], GRPCRoute: ['v1', 'v1alpha2'] },
  apps: { Deployment: ['v1'], StatefulSet: ['v1'], DaemonSet: ['v1'] },
  '': { Service: ['v1'], ServiceAccount: ['v1'], Namespace: ['v1'] },
};

/** The files named on the command line: YAML files as given, folders searched for `*.yaml`/`*.yml` in name order. */
export function readManifestTexts(
  paths: readonly string[],
  cwd: string,
  readStdin: () => string,
): { readonly texts: ManifestText[]; readonly diagnostics: Diagnostic[] } {
  const texts: ManifestText[] = [];
  const diagnostics: Diagnostic[] = [];
  const visit = (file: string, named: boolean): void => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      diagnostics.push(
        diagnostic('import-no-input', `'${path.relative(cwd, file) || file}' does not exist. Pass YAML files, folders, or - for standard input.`),
      );
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(file).sort()) {
        const child = path.join(file, entry);
        if (fs.statSync(child).isDirectory() || /\.ya?ml$/.test(entry)) visit(child, false);
      }
    } else if (named || /\.ya?ml$/.test(file)) {
      texts.push({ file, text: fs.readFileSync(file, 'utf8') });
    }
  };
  for (const given of paths) {
    if (given === '-') texts.push({ file: STDIN_NAME, text: readStdin() });
    else visit(path.resolve(cwd, given), true);
  }
  if (texts.length === 0 && diagnostics.length === 0) {
    diagnostics.push(diagnostic('import-no-input', 'No YAML file found. Pass YAML files, folders that contain them, or - for standard input.'));
  }
  return { texts, diagnostics };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `group/version` split; the core group is ''. */
export function groupVersion(apiVersion: string): { readonly group: string; readonly version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash === -1 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/**
 * Every object of the texts, `List` items unpacked. Diagnostics: malformed YAML (PC6001), objects without
 * apiVersion/kind/name (PC6004), kinds import does not read (PC6002), known kinds of unknown versions (PC6003).
 * Objects that get an error are left out; a namespace-less object is kept as written (the caller decides).
 */
export function parseManifests(texts: readonly ManifestText[]): { readonly objects: ImportedObject[]; readonly diagnostics: Diagnostic[] } {
  const objects: ImportedObject[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { file, text } of texts) {
    const lines = new LineCounter();
    const spanOfRange = (range: readonly [number, number, number?] | null | undefined): Span => {
      const start = range?.[0] ?? 0;
      const { line, col } = lines.linePos(start);
      return { file, line, column: col, start, length: Math.max(1, Math.min((range?.[1] ?? start + 1) - start, 80)) };
    };
    let documents: Document.Parsed[];
    try {
      documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false }) as Document.Parsed[];
    } catch (error) {
      diagnostics.push(diagnostic('import-malformed-yaml', `This file could not be read as YAML: ${String(error)}.`, spanOfRange([0, 1])));
      continue;
    }
    if (!Array.isArray(documents)) documents = [documents];
    for (const document of documents) {
      if (document.errors.length > 0) {
        for (const error of document.errors.slice(0, 1)) {
          diagnostics.push(
            diagnostic(
              'import-malformed-yaml',
              `This is not valid YAML: ${error.message.split('\n')[0] ?? error.message}. Fix the YAML, or leave the file out of the import.`,
              spanOfRange([error.pos[0], error.pos[1]]),
            ),
          );
        }
        continue;
      }
      const read = (node: Node, value: unknown, fieldPrefix: readonly (string | number)[]): void => {
        const span = spanOfRange(node.range);
        if (!isRecord(value)) {
          if (value !== null && value !== undefined) {
            diagnostics.push(
              diagnostic('import-invalid-object', 'This document is not a Kubernetes object (a mapping with apiVersion and kind). Remove it.', span),
            );
          }
          return;
        }
        const { apiVersion, kind } = value;
        const metadata = isRecord(value['metadata']) ? value['metadata'] : undefined;
        if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
          diagnostics.push(
            diagnostic('import-invalid-object', 'This object has no `apiVersion` and `kind` strings; the cluster would reject it. Add them.', span),
          );
          return;
        }
        if (kind === 'List' || kind.endsWith('List')) {
          const items = value['items'];
          const itemsNode = isMap(node) ? node.get('items', true) : undefined;
          if (!Array.isArray(items) || !isSeq(itemsNode)) {
            diagnostics.push(diagnostic('import-invalid-object', 'This List has no `items` sequence. Export it again with `kubectl get … -o yaml`.', span));
            return;
          }
          items.forEach((item, index) => {
            const itemNode = itemsNode.items[index];
            if (itemNode !== undefined && itemNode !== null && typeof itemNode === 'object' && 'range' in itemNode)
              read(itemNode as Node, item, [...fieldPrefix, 'items', index]);
          });
          return;
        }
        const { group, version } = groupVersion(apiVersion);
        const versions = READ_KINDS[group]?.[kind];
        if (versions === undefined) {
          diagnostics.push(
            diagnostic(
              'import-not-policy',
              `${kind} (${apiVersion}) is not a mesh policy or a workload object that import reads; it is ignored. Import reads Istio PeerAuthentication and AuthorizationPolicy, Linkerd policy objects, and Deployments, StatefulSets, DaemonSets and Services.`,
              span,
            ),
          );
          return;
        }
        if (!versions.includes(version)) {
          diagnostics.push(
            diagnostic(
              'import-unknown-version',
              `${kind} of apiVersion ${apiVersion} is not a version import reads (${versions.map((v) => (group === '' ? v : `${group}/${v}`)).join(', ')}). Convert it to one of these versions first.`,
              span,
            ),
          );
          return;
        }
        if (metadata === undefined || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
          diagnostics.push(diagnostic('import-invalid-object', `This ${kind} has no metadata.name; the cluster would reject it. Add a name.`, span));
          return;
        }
        const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : undefined;
        const object = value as unknown as ManifestObject;
        objects.push({
          object,
          ref: `${kind} ${namespace === undefined ? '' : `${namespace}/`}${metadata['name']}`,
          span,
          spanAt: (fieldPath) => {
            const target = isMap(node) || isSeq(node) ? node.getIn(fieldPath, true) : undefined;
            return target !== undefined && target !== null && typeof target === 'object' && 'range' in target ? spanOfRange((target as Node).range) : span;
          },
        });
      };
      if (document.contents !== null) read(document.contents as Node, document.toJS(), []);
    }
  }
  return { objects, diagnostics };
}
