/**
 * The compiler options every policy is checked with. Apart from the session so that loading them does not
 * load TypeScript itself (the main thread never does; the type-check worker does).
 */
import { compiledFile } from './package-files';

export const PACKAGE_DIST = compiledFile('');
/** The DSL's compiled declarations (`dist/dsl/index.d.ts`). */
export const DSL_DECLARATIONS = compiledFile('dsl/index.d.ts');

/** The compiler options every policy is checked with. */
export function policyCompilerOptions(): Record<string, unknown> {
  return {
    strict: true,
    noEmit: true,
    target: 'es2022',
    lib: ['es2022'],
    types: [],
    module: 'preserve',
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    paths: { policyc: [DSL_DECLARATIONS] },
  };
}
