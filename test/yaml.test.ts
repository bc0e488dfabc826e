/**
 * The YAML writer, proven against a real YAML parser: GIVEN any plain JSON data (random, with strings chosen to
 * look like numbers, booleans, nulls, dates and YAML syntax), WHEN written and parsed back with `yaml` (YAML 1.2)
 * and with YAML 1.1 rules, THEN the data is unchanged.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'yaml';
import { KUBERNETES_ORDER, stringifyYaml } from '../compiler/yaml';
import { jsonData as json } from './yaml-arbitraries';

describe('YAML writer', () => {
  it('round-trips random JSON data through the yaml parser, in YAML 1.2 and 1.1', () => {
    fc.assert(
      fc.property(json, (value) => {
        const written = stringifyYaml(value);
        const normalised = JSON.parse(JSON.stringify(value)) as unknown;
        assert.deepEqual(parse(written), normalised, written);
        assert.deepEqual(parse(written, { version: '1.1' }), normalised, written);
      }),
      { numRuns: 3000, seed: 7 },
    );
  });

  it('orders keys the Kubernetes way: apiVersion, kind, metadata (name, namespace) first, port keys numerically, the rest sorted', () => {
    const written = stringifyYaml(
      {
        spec: { portLevelMtls: { '10000': 'b', '9000': 'a' }, b: 1, a: 2 },
        metadata: { labels: { z: '1' }, namespace: 'n', name: 'x' },
        kind: 'K',
        apiVersion: 'v1',
      },
      KUBERNETES_ORDER,
    );
    assert.equal(
      written,
      // 'n' is quoted: YAML 1.1 reads it as false.
      [
        'apiVersion: v1',
        'kind: K',
        'metadata:',
        '  name: x',
        '  namespace: "n"',
        '  labels:',
        '    z: "1"',
        'spec:',
        '  a: 2',
        '  b: 1',
        '  portLevelMtls:',
        '    "9000": a',
        '    "10000": b',
        '',
      ].join('\n'),
    );
  });

  it('writes Kubernetes objects the way kubectl users read them', () => {
    const written = stringifyYaml({
      apiVersion: 'v1',
      kind: 'X',
      metadata: { name: 'a' },
      spec: { ports: ['8080'], rules: [{ to: [{ operation: { paths: ['/a*'] } }] }], empty: {} },
    });
    assert.equal(
      written,
      [
        'apiVersion: v1',
        'kind: X',
        'metadata:',
        '  name: a',
        'spec:',
        '  ports:',
        '    - "8080"',
        '  rules:',
        '    - to:',
        '        - operation:',
        '            paths:',
        '              - /a*',
        '  empty: {}',
        '',
      ].join('\n'),
    );
  });
});
