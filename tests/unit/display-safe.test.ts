/**
 * Escape at output (agent/safe-text.ts) and the log lines a person reads (agent/log.ts): what is
 * left of a control or bidirectional character is shown as its escape, JSON keeps the raw value,
 * pretty log lines are display-safe and make warnings and errors stand out, colour only on a
 * terminal without NO_COLOR; and a loopback --interface is refused as such.
 */
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../agent/daemon/config.js';
import { AgentError } from '../../agent/errors.js';
import { colourWanted, defaultLogFormat, prettyLine } from '../../agent/log.js';
import { chooseInterfaces } from '../../agent/net/interfaces.js';
import { escapeHtml } from '../../agent/report/html.js';
import { inventoryTable } from '../../agent/report/table.js';
import { displaySafe, displaySafeLines, hasUnsafeText, jsonSafe } from '../../agent/safe-text.js';
import { device, sampleInventory } from './report-fixture.js';

const names = new Map([
  ['hikvision', 'Hikvision'],
  ['dahua', 'Dahua'],
]);

describe('displaySafe', () => {
  it('shows C0, DEL, C1 and bidirectional formatting characters as escapes, and nothing else', () => {
    expect(displaySafe('a\x1b[2J\x1b]0;t\x07b\u007f\u009b\u202e\u2066\u200e\u061c\tc\n')).toBe('a\\x1b[2J\\x1b]0;t\\x07b\\x7f\\x9b\\u202e\\u2066\\u200e\\u061c\\x09c\\x0a');
    expect(displaySafe('ünïcødé 摄像机 DS-2CD2143G2-I')).toBe('ünïcødé 摄像机 DS-2CD2143G2-I');
    expect(displaySafeLines('one\x1b\ntwo\r')).toBe('one\\x1b\ntwo\\x0d');
  });

  it('in HTML too, where line feeds stay (the CVE cell lists one a line)', () => {
    expect(escapeHtml('CVE-2021-36260\nCVE-2017-7921 <b>\u202e\x1b')).toBe('CVE-2021-36260\nCVE-2017-7921 &lt;b&gt;\\u202e\\x1b');
  });

  it('keeps JSON readable back to the raw value, with no raw character of the class', () => {
    const value = { model: 'x\x1b\u007f\u0085\u202e\u2069', list: ['\u200f'] };
    const text = jsonSafe(JSON.stringify(value, null, 2));
    expect(hasUnsafeText(text.replaceAll('\n', ''))).toBe(false);
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe('pretty log lines', () => {
  const line = (level: number, msg: string, extra: Record<string, unknown> = {}): string =>
    `${JSON.stringify({ level, time: Date.UTC(2026, 11, 5, 10, 0, 0), pid: 1, hostname: 'h', name: 'cctv-agent', module: 'ssdp', msg, ...extra })}\n`;

  it('reads as one line: time, level, module, message, details; every part display-safe', () => {
    const shown = prettyLine(line(40, 'malformed\x1b[2J reply', { from: '198.18.0.5', server: 'evil\u202e\x07', count: 2 }), false);
    expect(shown).toMatch(/^\d\d:\d\d:\d\d WARN  ssdp: malformed\\x1b\[2J reply from=198\.18\.0\.5 server=evil\\u202e\\x07 count=2\n$/);
    expect(hasUnsafeText(shown.slice(0, -1))).toBe(false);
    expect(prettyLine('not json \x1b[2J\n', false)).toBe('not json \\x1b[2J\n');
  });

  it('makes warnings and errors stand out in colour, and only in colour when asked', () => {
    expect(prettyLine(line(30, 'scan started'), true)).not.toContain('\x1b[33m');
    expect(prettyLine(line(40, 'slow'), true)).toContain('\x1b[33mWARN ');
    expect(prettyLine(line(50, 'failed'), true)).toContain('\x1b[1;31mERROR\x1b[0m');
    expect(prettyLine(line(50, 'failed'), true)).toContain('\x1b[1;31mfailed\x1b[0m');
    expect(prettyLine(line(50, 'failed'), false)).not.toContain('\x1b');
  });

  it('is the default on a terminal; colour needs a terminal and no NO_COLOR', () => {
    expect(defaultLogFormat({ isTTY: true })).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
    expect(defaultLogFormat({})).toBe('json');
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(true); // no-color.org: set and not empty
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
  });
});

describe('the inventory table', () => {
  it('says "not linked" with no confidence for a device not linked; a linked one keeps its confidence', () => {
    const text = inventoryTable({ ...sampleInventory(), devices: [sampleInventory().devices[0]!, device('198.18.0.40', { classification: { linkedVendor: null, relation: null, confidence: 0.9 } })] }, names);
    const axis = text.split('\n').find((l) => l.includes('198.18.0.40'));
    expect(axis).toMatch(/not linked\s*│.*│\s*-\s*│$/);
    expect(axis).not.toContain('0.90');
    expect(text.split('\n').find((l) => l.includes('198.18.0.10'))).toContain('0.95');
  });
});

describe('--interface', () => {
  const loopback = Object.entries(networkInterfaces()).find(([, addresses]) => addresses?.some((a) => a.family === 'IPv4' && a.internal))?.[0];

  it('refuses the loopback interface as loopback, naming what to pick instead', () => {
    expect(loopback, 'this machine has a loopback interface').toBeDefined();
    let thrown: unknown;
    try {
      chooseInterfaces([loopback!]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AgentError);
    expect((thrown as AgentError).code).toBe('CCTV_ERR_LOOPBACK_INTERFACE');
    expect((thrown as AgentError).message).toContain('is the loopback interface');
    expect((thrown as AgentError).message).not.toContain('does not exist');
    expect((thrown as AgentError).exitCode).toBe(2);
  });

  it('is named as loopback in a daemon configuration too', () => {
    const text = `sites:\n  - name: a\n    interfaces: [${loopback!}]\n    schedule: "* * * * *"\n`;
    const available = [{ name: 'eth0', address: '198.18.0.1', cidr: '198.18.0.1/24' }];
    expect(() => parseDaemonConfig(text, '/nonexistent/daemon.yaml', { availableInterfaces: available, env: {} })).toThrow(
      `sites[0].interfaces[0]: interface "${loopback!}" is the loopback interface, which reaches only this machine (here: eth0)`,
    );
  });

  it('still says an unknown name does not exist', () => {
    expect(() => chooseInterfaces(['no-such-if0'])).toThrow(/does not exist/);
  });
});
