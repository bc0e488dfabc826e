/**
 * The simulators' own IP module (verify/ip.ts), independent of the compiler's (model/cidr.ts): what it reads
 * as an address or a block, and what it refuses.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { blockWithin, inBlock, isV4Mapped, parseIp, parseIpBlock, type IpBlock } from '../verify/ip';

const block = (text: string): IpBlock => {
  const parsed = parseIpBlock(text);
  if (parsed === undefined) throw new Error(`${text} should parse`);
  return parsed;
};

describe('verify/ip', () => {
  it('GIVEN IPv4 and IPv6 text WHEN parsed THEN the same address has the same bits however it is written', () => {
    assert.deepEqual(parseIp('::ffff:10.0.0.1'), parseIp('0:0:0:0:0:ffff:a00:1'));
    assert.deepEqual(parseIp('2001:db8::1'), parseIp('2001:0db8:0:0:0:0:0:1'));
    assert.equal(parseIp('10.0.0.1')?.bits, 0x0a000001n);
    assert.equal(parseIp('10.0.0.1')?.family, 4);
  });

  it('GIVEN malformed addresses WHEN parsed THEN none is read', () => {
    for (const text of ['10.0.0', '10.0.0.256', '1::2::3', '1:2:3:4:5:6:7:8:9', '::1:2:3:4:5:6:7:8', 'fe80::1%eth0', '10.0.0.1/8', '', 'x']) {
      assert.equal(parseIp(text), undefined, text);
    }
  });

  it('GIVEN an IPv4 part with a leading zero WHEN parsed THEN the strict syntax refuses it and the lenient one reads it as decimal', () => {
    assert.equal(parseIp('10.0.0.010'), undefined);
    assert.equal(parseIp('10.0.0.010', { leadingZeros: true })?.bits, 0x0a00000an);
    assert.equal(parseIpBlock('010.0.0.0/8'), undefined);
    assert.equal(parseIpBlock('010.0.0.0/8', { leadingZeros: true })?.prefix, 8);
  });

  it('GIVEN blocks WHEN addresses are tested against them THEN only the network bits count, never across families', () => {
    assert.ok(inBlock(block('10.1.2.3').ip, block('10.0.0.0/8')));
    assert.ok(inBlock(block('10.1.2.3').ip, block('10.9.9.9/8')), 'host bits of the block are ignored');
    assert.ok(!inBlock(block('11.0.0.1').ip, block('10.0.0.0/8')));
    assert.ok(!inBlock(block('::a00:1').ip, block('0.0.0.0/0')));
    assert.equal(block('10.0.0.1').prefix, 32);
    assert.equal(block('::1').prefix, 128);
    for (const text of ['10.0.0.0/33', '::/129', '10.0.0.0/8/1', '10.0.0.0/', '10.0.0.0/-1']) assert.equal(parseIpBlock(text), undefined, text);
  });

  it('GIVEN nested and disjoint blocks WHEN compared THEN only a block inside another is within it', () => {
    assert.ok(blockWithin(block('10.1.0.0/16'), block('10.0.0.0/8')));
    assert.ok(!blockWithin(block('10.0.0.0/8'), block('10.1.0.0/16')));
    assert.ok(!blockWithin(block('192.168.0.0/16'), block('10.0.0.0/8')));
  });

  it('GIVEN IPv4-mapped IPv6 addresses WHEN recognised THEN only ::ffff:0:0/96 counts', () => {
    assert.ok(isV4Mapped(block('::ffff:10.0.0.1').ip));
    assert.ok(!isV4Mapped(block('::10.0.0.1').ip));
    assert.ok(!isV4Mapped(block('10.0.0.1').ip));
  });
});
