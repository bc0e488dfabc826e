/**
 * The imported policy as TypeScript a person would write, generated with ts-morph: one file per namespace
 * (its namespace, its services, the rules that protect them), an entry file `policy.ts` with the mesh, imports
 * between them, a JSDoc comment on each declaration naming the cluster object it came from, and what could not
 * be imported as comments where it belongs.
 *
 * ts-morph (and the TypeScript it carries) is loaded here on first use only: `build` never pays for it.
 */
import type * as TsMorph from 'ts-morph';
import type { PathMatch, PolicyModel, RuleModel, ServiceModel, SourceModel } from '../model/model';
import type { ImportedPolicy, KeptComment } from './imported';

/** The entry file, the one `policyc build` reads by default. */
export const ENTRY_FILE = 'policy.ts';

const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package ' +
    'private protected public await mesh namespace service allow deny anyone authenticated ipBlocks identity'
  ).split(' '),
);

function camelCase(text: string): string {
  const words = text.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  const joined = words.map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())).join('');
  return /^[0-9]/.test(joined) ? `_${joined}` : joined || '_';
}

const quote = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const key = (text: string): string => (/^[A-Za-z_$][\w$]*$/.test(text) ? text : quote(text));
const list = (values: readonly string[]): string => `[${values.map(quote).join(', ')}]`;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** File names and identifiers, unique across the whole project (the entry imports everything). */
class Names {
  private readonly used = new Set<string>();
  readonly services = new Map<string, string>();
  readonly namespaces = new Map<string, string>();
  readonly rules = new Map<string, string>();
  readonly files = new Map<string, string>();

  constructor(model: PolicyModel, namespaces: readonly string[]) {
    const take = (wanted: string, fallback: string): string => {
      let name = RESERVED.has(wanted) || this.used.has(wanted) ? fallback : wanted;
      for (let i = 2; RESERVED.has(name) || this.used.has(name); i++) name = `${fallback}${i}`;
      this.used.add(name);
      return name;
    };
    const clashing = new Set(model.services.filter((s, _, all) => all.filter((o) => o.name === s.name).length > 1).map((s) => s.name));
    for (const service of model.services) {
      const plain = camelCase(service.name);
      this.services.set(
        service.id,
        take(clashing.has(service.name) ? camelCase(`${service.namespace}-${service.name}`) : plain, camelCase(`${service.name}-service`)),
      );
    }
    for (const ns of namespaces) {
      this.namespaces.set(ns, take(camelCase(ns), camelCase(`${ns}-namespace`)));
      this.rules.set(ns, take(camelCase(`${ns}-rules`), camelCase(`${ns}-namespace-rules`)));
      const file = ns === 'policy' ? 'policy-namespace' : ns;
      this.files.set(ns, file);
    }
  }
}

/** `//` lines of at most about 110 characters, continuation lines indented. */
function wrapComment(text: string): string[] {
  const lines: string[] = [];
  let line = '//';
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > 110 && line.length > 4) {
      lines.push(line);
      line = '//  ';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

export interface GeneratedSources {
  /** File name (relative to the output folder) → TypeScript source. */
  readonly files: ReadonlyMap<string, string>;
}

/** Where a rule is written: its destination's namespace file, or the entry when that would make imports circular. */
function placeRules(model: PolicyModel, services: ReadonlyMap<string, ServiceModel>): Map<RuleModel, string | undefined> {
  const edges = new Map<string, Set<string>>();
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const node = stack.pop() as string;
      if (node === to) return true;
      if (seen.has(node)) continue;
      seen.add(node);
      stack.push(...(edges.get(node) ?? []));
    }
    return false;
  };
  const placed = new Map<RuleModel, string | undefined>();
  for (const rule of model.rules) {
    const home = services.get(rule.destination)?.namespace ?? '';
    const needs = new Set(
      rule.sources.flatMap((s) => (s.kind === 'service' ? [services.get(s.service)?.namespace ?? home] : s.kind === 'namespace' ? [s.namespace] : [])),
    );
    needs.delete(home);
    if ([...needs].some((ns) => reaches(ns, home))) {
      placed.set(rule, undefined);
      continue;
    }
    for (const ns of needs) edges.set(home, new Set([...(edges.get(home) ?? []), ns]));
    placed.set(rule, home);
  }
  return placed;
}

export function generateSources(imported: ImportedPolicy, header: string): GeneratedSources {
  const { Project, QuoteKind, VariableDeclarationKind } = require('ts-morph') as typeof TsMorph;
  const { model } = imported;
  const services = new Map(model.services.map((s) => [s.id, s]));
  const namespaceNames = [...new Set([...model.namespaces.map((n) => n.name), ...model.services.map((s) => s.namespace)])].sort(compare);
  const names = new Names(model, namespaceNames);
  const placement = placeRules(model, services);
  const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { strict: true }, manipulationSettings: { quoteKind: QuoteKind.Single } });

  /** Per file: identifiers to import, by the file they come from. */
  const importsOf = new Map<string, Map<string, Set<string>>>();
  const need = (file: string, from: string, identifier: string): void => {
    if (file === from) return;
    const byFile = importsOf.get(file) ?? new Map<string, Set<string>>();
    byFile.set(from, new Set([...(byFile.get(from) ?? []), identifier]));
    importsOf.set(file, byFile);
  };
  const fileOfNamespace = (ns: string): string => names.files.get(ns) ?? ns;
  const entryName = ENTRY_FILE.replace(/\.ts$/, '');

  const sourceText = (file: string, source: SourceModel): string => {
    switch (source.kind) {
      case 'service': {
        const svc = services.get(source.service);
        const id = names.services.get(source.service) ?? '';
        if (svc !== undefined) need(file, fileOfNamespace(svc.namespace), id);
        return id;
      }
      case 'namespace': {
        const id = names.namespaces.get(source.namespace);
        if (id === undefined) return `${dsl(file, 'namespace')}(${quote(source.namespace)})`;
        need(file, fileOfNamespace(source.namespace), id);
        return id;
      }
      case 'identity':
        return `${dsl(file, 'identity')}(${quote(source.namespace)}, ${quote(source.serviceAccount)})`;
      case 'authenticated':
      case 'anyone':
        return dsl(file, source.kind);
      case 'ipBlock':
        return `${dsl(file, 'ipBlocks')}(${quote(source.cidr)})`;
      case 'spiffe':
        return `${dsl(file, 'spiffe')}(${quote(source.id)})`;
      case 'trustDomain':
        return `${dsl(file, 'trustDomain')}(${quote(source.trustDomain)})`;
      case 'both':
        return `${dsl(file, 'both')}(${sourceText(file, source.identity)}, ${dsl(file, 'ipBlocks')}(${source.cidrs.map(quote).join(', ')}))`;
      case 'remoteIpBlock':
        return `${dsl(file, 'remoteIpBlocks')}(${quote(source.cidr)})`;
      case 'requestIdentity':
        // The importer reads no RequestAuthentication, so an imported model never names a request identity.
        throw new Error('policyc import does not read request identities');
    }
  };
  const pathText = (p: PathMatch): string => (p.kind === 'prefix' ? `${p.value}*` : p.value);

  const ruleText = (file: string, rule: RuleModel): string => {
    const destination = services.get(rule.destination);
    const ipBlocks = rule.sources.filter((s): s is Extract<SourceModel, { kind: 'ipBlock' }> => s.kind === 'ipBlock');
    const others = rule.sources.filter((s) => s.kind !== 'ipBlock').map((s) => sourceText(file, s));
    const from = [...others, ...(ipBlocks.length === 0 ? [] : [`${dsl(file, 'ipBlocks')}(${ipBlocks.map((b) => quote(b.cidr)).join(', ')})`])];
    const to = names.services.get(rule.destination) ?? '';
    if (destination !== undefined) need(file, fileOfNamespace(destination.namespace), to);
    const l7 = rule.methods !== undefined || rule.paths !== undefined;
    const implied = (destination?.ports ?? []).filter((p) => !l7 || p.protocol !== 'tcp').map((p) => p.name);
    const scope = [
      ...(rule.ports.length === implied.length && implied.every((p) => rule.ports.includes(p)) ? [] : [`ports: ${list(rule.ports)}`]),
      ...(rule.methods === undefined ? [] : [`methods: ${list(rule.methods)}`]),
      ...(rule.paths === undefined ? [] : [`paths: ${list(rule.paths.map(pathText))}`]),
      ...(rule.name === undefined ? [] : [`name: ${quote(rule.name)}`]),
    ];
    return `${dsl(file, rule.action)}(${from.join(', ')}).to(${to}${scope.length === 0 ? '' : `, { ${scope.join(', ')} }`})`;
  };
  const ruleDoc = (rule: RuleModel): string => {
    const origin = imported.origins.get(rule.id);
    if (origin === undefined) return '';
    return origin.objects.length > 0 ? `/** From ${origin.objects.join(', ')}. */` : `/** ${origin.why ?? ''} */`;
  };
  const commentLines = (comments: readonly KeptComment[]): string[] => comments.flatMap((c) => wrapComment(`Not imported from ${c.origin}: ${c.text}.`));
  const rulesArray =
    (file: string, rules: readonly RuleModel[], comments: readonly KeptComment[]): TsMorph.WriterFunction =>
    (writer) => {
      if (rules.length === 0 && comments.length === 0) {
        writer.write('[]');
        return;
      }
      writer.write('[').newLine();
      writer.indent(() => {
        const destinations = [
          ...new Set([...rules.map((r) => r.destination), ...comments.flatMap((c) => (c.destination === undefined ? [] : [c.destination]))]),
        ].sort(compare);
        for (const destination of destinations) {
          const ofDestination = rules.filter((r) => r.destination === destination);
          const fromObject = (c: KeptComment, r: RuleModel) => imported.origins.get(r.id)?.objects.includes(c.origin) === true;
          // A comment goes just before the first rule from the same object, else at the head of the service's rules.
          const before = new Map<RuleModel, KeptComment[]>();
          const head: KeptComment[] = [];
          for (const comment of comments.filter((c) => c.destination === destination)) {
            const rule = ofDestination.find((r) => fromObject(comment, r));
            if (rule === undefined) head.push(comment);
            else before.set(rule, [...(before.get(rule) ?? []), comment]);
          }
          for (const line of commentLines(head)) writer.writeLine(line);
          for (const rule of ofDestination) {
            for (const line of commentLines(before.get(rule) ?? [])) writer.writeLine(line);
            const doc = ruleDoc(rule);
            if (doc !== '') writer.writeLine(doc);
            writer.writeLine(`${ruleText(file, rule)},`);
          }
        }
      });
      writer.write(']');
    };

  const files = new Map<string, TsMorph.SourceFile>();
  /** Per file: the DSL builders its code calls, recorded as the code is written. */
  const dslImports = new Map<string, Set<string>>();
  const dsl = (file: string, word: string): string => {
    dslImports.set(file, new Set([...(dslImports.get(file) ?? []), word]));
    return word;
  };

  const namespaceOfFile = new Map<string, string>();
  for (const ns of namespaceNames) {
    const file = fileOfNamespace(ns);
    namespaceOfFile.set(file, ns);
    const sourceFile = project.createSourceFile(`${file}.ts`, '', { overwrite: true });
    files.set(file, sourceFile);
    const nsModel = model.namespaces.find((n) => n.name === ns);
    const nsId = names.namespaces.get(ns) ?? ns;
    sourceFile.addVariableStatement({
      isExported: true,
      declarationKind: VariableDeclarationKind.Const,
      declarations: [
        { name: nsId, initializer: `${dsl(file, 'namespace')}(${quote(ns)}${nsModel?.mtls === undefined ? '' : `, { mtls: ${quote(nsModel.mtls)} }`})` },
      ],
    });
    for (const svc of model.services.filter((s) => s.namespace === ns)) {
      const origin = imported.services.find((s) => s.service.id === svc.id)?.origins.map((o) => o.ref) ?? [];
      const isDefaultSelector = Object.keys(svc.selector).length === 1 && svc.selector['app'] === svc.name;
      const options: TsMorph.WriterFunction = (writer) => {
        writer.write('{').newLine();
        writer.indent(() => {
          if (svc.serviceAccount !== svc.name) writer.writeLine(`serviceAccount: ${quote(svc.serviceAccount)},`);
          if (!isDefaultSelector)
            writer.writeLine(
              `selector: { ${Object.entries(svc.selector)
                .map(([k, v]) => `${key(k)}: ${quote(v)}`)
                .join(', ')} },`,
            );
          if (svc.mtls !== undefined) writer.writeLine(`mtls: ${quote(svc.mtls)},`);
          const portText = svc.ports.map(
            (p) => `${key(p.name)}: { port: ${p.port}, protocol: ${quote(p.protocol)}${p.mtls === undefined ? '' : `, mtls: ${quote(p.mtls)}`} }`,
          );
          const [only] = portText;
          if (portText.length === 1 && only !== undefined) writer.writeLine(`ports: { ${only} },`);
          else {
            writer.write('ports: {').newLine();
            writer.indent(() => portText.forEach((text) => writer.writeLine(`${text},`)));
            writer.writeLine('},');
          }
        });
        writer.write('}');
      };
      sourceFile.addVariableStatement({
        isExported: true,
        declarationKind: VariableDeclarationKind.Const,
        ...(origin.length === 0 ? {} : { docs: [`From ${origin.join(', ')}.`] }),
        declarations: [
          {
            name: names.services.get(svc.id) ?? svc.name,
            initializer: (w) => (w.write(`${dsl(file, 'service')}(${nsId}, ${quote(svc.name)}, `), options(w), w.write(')')),
          },
        ],
      });
    }
    const rules = model.rules.filter((r) => placement.get(r) === ns);
    const comments = imported.comments.filter((c) => c.namespace === ns);
    const topComments = comments.filter((c) => c.destination === undefined);
    sourceFile.addVariableStatement({
      isExported: true,
      declarationKind: VariableDeclarationKind.Const,
      ...(topComments.length === 0 ? {} : { leadingTrivia: `${commentLines(topComments).join('\n')}\n` }),
      docs: [`Who may call the services of namespace ${ns}.`],
      declarations: [
        {
          name: names.rules.get(ns) ?? `${ns}Rules`,
          initializer: rulesArray(
            file,
            rules,
            comments.filter((c) => c.destination !== undefined),
          ),
        },
      ],
    });
  }

  // The entry: the mesh, every service, every rule; rules that would make imports circular are written here.
  const entry = project.createSourceFile(ENTRY_FILE, '', { overwrite: true });
  files.set(entryName, entry);
  const { mesh } = model;
  const entryRules = model.rules.filter((r) => placement.get(r) === undefined);
  const homeless = imported.comments.filter((c) => !namespaceNames.includes(c.namespace));
  const serviceIds = model.services.map((s) => {
    const id = names.services.get(s.id) ?? s.name;
    need(entryName, fileOfNamespace(s.namespace), id);
    return id;
  });
  const ruleLists = namespaceNames.map((ns) => {
    const id = names.rules.get(ns) ?? ns;
    need(entryName, fileOfNamespace(ns), id);
    return `...${id}`;
  });
  const extraNamespaces = namespaceNames
    .filter((ns) => !model.services.some((s) => s.namespace === ns))
    .map((ns) => {
      const id = names.namespaces.get(ns) ?? ns;
      need(entryName, fileOfNamespace(ns), id);
      return id;
    });
  entry.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    ...(homeless.length === 0 ? {} : { leadingTrivia: `${commentLines(homeless).join('\n')}\n` }),
    docs: entryRules.length === 0 ? [] : ['Rules between namespaces that name each other, kept here so that no two namespace files import each other.'],
    declarations: [{ name: 'crossNamespaceRules', initializer: rulesArray(entryName, entryRules, []) }],
  });
  entry.addExportAssignment({
    isExportEquals: false,
    expression: (writer) => {
      writer.write(`${dsl(entryName, 'mesh')}({`).newLine();
      writer.indent(() => {
        if (mesh.trustDomain !== 'cluster.local') writer.writeLine(`trustDomain: ${quote(mesh.trustDomain)},`);
        const controlPlane = mesh.linkerd?.controlPlaneNamespace;
        if (controlPlane !== undefined) writer.writeLine(`linkerd: { controlPlaneNamespace: ${quote(controlPlane)} },`);
        writer.writeLine(`mtls: ${quote(mesh.mtls)},`);
        writer.writeLine(`defaultAction: ${quote(mesh.defaultAction)},`);
        if (mesh.rootNamespace !== 'istio-system') writer.writeLine(`rootNamespace: ${quote(mesh.rootNamespace)},`);
        if ((mesh.scope ?? 'mesh') !== 'mesh') writer.writeLine(`scope: ${quote(mesh.scope ?? 'mesh')},`);
        if (mesh.everyMeshedNamespaceListed === true) writer.writeLine('everyMeshedNamespaceListed: true,');
        if (extraNamespaces.length > 0) writer.writeLine(`namespaces: [${extraNamespaces.join(', ')}],`);
        writer.writeLine(`services: [${serviceIds.join(', ')}],`);
        writer.writeLine(`rules: [${[...ruleLists, ...(entryRules.length === 0 ? [] : ['...crossNamespaceRules'])].join(', ')}],`);
      });
      writer.write('})');
    },
  });
  if (entryRules.length === 0) entry.getVariableStatement('crossNamespaceRules')?.remove();

  const out = new Map<string, string>();
  for (const [file, sourceFile] of files) {
    const imports = importsOf.get(file) ?? new Map<string, Set<string>>();
    const builders = [...(dslImports.get(file) ?? [])].sort(compare);
    sourceFile.insertImportDeclarations(0, [
      ...(builders.length === 0 ? [] : [{ moduleSpecifier: 'policyc', namedImports: builders }]),
      ...[...imports].sort(([a], [b]) => compare(a, b)).map(([from, ids]) => ({ moduleSpecifier: `./${from}`, namedImports: [...ids].sort(compare) })),
    ]);
    const about =
      file === entryName
        ? `${header}\n\nThe mesh: its settings, every service and every rule.`
        : `Namespace ${namespaceOfFile.get(file) ?? file}: its services, and who may call them.`;
    sourceFile.insertStatements(
      0,
      `/**\n${about
        .split('\n')
        .map((l) => (l === '' ? ' *' : ` * ${l}`))
        .join('\n')}\n */`,
    );
    sourceFile.formatText({ indentSize: 2, convertTabsToSpaces: true, semicolons: 'insert' as TsMorph.ts.SemicolonPreference });
    // A blank line between top-level statements, as a person leaves them.
    const text = sourceFile
      .getFullText()
      .replace(/\r\n/g, '\n')
      .replace(/;\n(?=(\/\/|\/\*\*|export |const ))/g, ';\n\n')
      .replace(/^(\/\*\*[\s\S]*?\*\/)\n(?!\n)/, '$1\n\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd();
    out.set(`${file}.ts`, `${text}\n`);
  }
  return { files: out };
}
