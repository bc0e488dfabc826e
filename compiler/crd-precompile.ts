/**
 * Run by `npm run build` after tsc: precompiles every vendored CRD file (see compiler/crd-schemas.ts) into
 * `dist/compiler/crd-precompiled/`, replacing what was there, and the schema of evaluated policy values
 * (compiler/evaluator/policy-schema.ts). A build without this step is correct, only slower.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCrdFiles, precompileCrd, PRECOMPILED_CRDS } from './crd-schemas';
import { VENDORED_CRDS } from './package-files';
import { precompilePolicySchema, PRECOMPILED_POLICY_SCHEMA } from './evaluator/policy-schema';

/** Writes the modules of every CRD file of `crdFiles` into `outDir` (emptied first); returns their names. */
export function precompileCrds(crdFiles: readonly string[], outDir: string): string[] {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  return crdFiles.flatMap((file) =>
    [...precompileCrd(file, fs.readFileSync(file, 'utf8'), outDir)].map(([name, code]) => {
      fs.writeFileSync(path.join(outDir, name), code);
      return name;
    }),
  );
}

if (require.main === module) {
  const written = precompileCrds(listCrdFiles(VENDORED_CRDS), PRECOMPILED_CRDS);
  fs.writeFileSync(PRECOMPILED_POLICY_SCHEMA, precompilePolicySchema());
  process.stdout.write(`precompiled ${written.length} modules of CRD files into ${path.relative(process.cwd(), PRECOMPILED_CRDS) || '.'}\n`);
}
