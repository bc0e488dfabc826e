/**
 * Which policy file a relative import names, by the rules TypeScript applies to policyc's compiler options
 * (`moduleResolution: bundler`, `allowImportingTsExtensions`): the type checker and the evaluator must load
 * the same file. A repository with `"type": "module"` and `module: nodenext` writes `./services.js` for
 * `services.ts`; one with `module: preserve` writes `./services`; some write `./services.ts`. All three name
 * the same policy file.
 */
import * as path from 'node:path';

/** The file an import loads, or what the user should change when policyc cannot load it. */
export type PolicyImport = { readonly file: string } | { readonly problem: string };

// The JavaScript extension an import may name for each TypeScript source, as TypeScript maps them.
const SOURCE_OF_OUTPUT: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['.js', ['.ts', '.tsx']],
  ['.jsx', ['.tsx']],
  ['.mjs', ['.mts']],
  ['.cjs', ['.cts']],
];

const TYPESCRIPT_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts'];

// What an extension-less import may name, in TypeScript's order.
const EXTENSIONLESS_CANDIDATES = ['.ts', '.tsx', '.mts', '.cts', '/index.ts', '/index.tsx'];

/** The files, in order, that a relative specifier may name. */
export function importCandidates(importer: string, specifier: string): readonly string[] {
  const base = path.resolve(path.dirname(importer), specifier);
  if (TYPESCRIPT_EXTENSIONS.some((e) => base.endsWith(e)) && !base.endsWith('.d.ts')) return [base];
  for (const [output, sources] of SOURCE_OF_OUTPUT) {
    if (base.endsWith(output)) return sources.map((source) => base.slice(0, -output.length) + source);
  }
  return EXTENSIONLESS_CANDIDATES.map((suffix) => base + suffix);
}

/**
 * Resolves a relative import (`./x`, `../x`) of policy code to a policy file. `isPolicyFile` says whether a
 * path is a TypeScript policy file that exists. Returns undefined for specifiers that are not relative.
 */
export function resolvePolicyImport(importer: string, specifier: string, isPolicyFile: (file: string) => boolean): PolicyImport | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const candidates = importCandidates(importer, specifier);
  const found = candidates.find(isPolicyFile);
  if (found !== undefined) return { file: found };
  const shown = candidates.map((c) => path.relative(path.dirname(importer), c).split(path.sep).join('/')).join(', ');
  const bare = specifier.replace(/\.(?:[cm]?[jt]sx?|d\.ts)$/, '');
  if (specifier.endsWith('.d.ts')) {
    return {
      problem: `'${specifier}' is a declaration file, which has no code to run. Import the policy file that declares the objects instead ('${bare}').`,
    };
  }
  if (/\.(?:[cm]?js|jsx)$/.test(specifier)) {
    return {
      problem: `'${specifier}' names no TypeScript policy file (looked for ${shown}). Policy files must be TypeScript: rename the JavaScript file to .ts, or import the policy file as '${bare}'.`,
    };
  }
  return {
    problem: `'${specifier}' names no policy file (looked for ${shown}). Import a TypeScript file of the policy as '${bare}', '${bare}.js' or '${bare}.ts'.`,
  };
}
