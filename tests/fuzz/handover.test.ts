/**
 * Handover schedules come from installers' spreadsheets and JSON exports: any text, or any bytes
 * for a workbook. The parser must either return rows whose values are clean (IP addresses valid,
 * MACs canonical) or refuse the file with the coded handover error, never throw anything else.
 */
import fc from 'fast-check';
import { isIPv4 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { parseHandover, parseXlsxHandover } from '../../agent/handover/schedule.js';
import { workbookOfRows } from '../support/xlsx.js';
import { normaliseMac } from '../../agent/net/mac.js';
import { fixtures, fuzz, protocolInput } from './fuzz-support.js';

const schedules = fixtures('handover').filter((f) => f.length > 0);
/** Workbooks to mutate: the openpyxl one (deflated parts) and one stored uncompressed, so mutations reach its XML too. */
const workbooks = [
  ...fixtures('handover', '.xlsx'),
  Buffer.from(workbookOfRows([['IP', 'MAC', 'Serial No.'], ['198.18.0.1', '28:57:be:6a:1c:10', 'SN1']], { level: 0 })),
];

describe('handover schedules', () => {
  it('CSV and JSON of any shape: rows with valid values, or the coded handover error', () => {
    fuzz(protocolInput(schedules).map((b) => b.toString('utf8')), 400, (text) => {
      let rows: ReturnType<typeof parseHandover>;
      try {
        rows = parseHandover(text, 'schedule.csv');
      } catch (error) {
        expect(error).toBeInstanceOf(AgentError);
        expect((error as AgentError).code).toBe('CCTV_ERR_BAD_HANDOVER');
        return;
      }
      for (const row of rows) {
        if (row.ip !== null) expect(isIPv4(row.ip), `ip ${row.ip}`).toBe(true);
        if (row.mac !== null) expect(normaliseMac(row.mac)).not.toBeNull();
        expect(row.line).toBeGreaterThanOrEqual(1);
      }
    });
  });

  it('random CSV cells never break the parser', () => {
    const cell = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('"', '""', '"a,b"', '\r\n', '\n', ',', '=cmd|x', '\x1b[2J', '198.18.0.1', '28:57:be:6a:1c:10'));
    const csv = fc.array(fc.array(cell, { minLength: 1, maxLength: 8 }), { maxLength: 20 }).map((rows) => ['IP,MAC,Serial,Model', ...rows.map((r) => r.join(','))].join('\n'));
    fuzz(csv, 300, (text) => {
      try {
        parseHandover(text, 'schedule.csv');
      } catch (error) {
        expect((error as AgentError).code).toBe('CCTV_ERR_BAD_HANDOVER');
      }
    });
  });

  it('workbooks of any bytes: rows with valid values, or a coded workbook error', () => {
    fuzz(protocolInput(workbooks), 200, (bytes) => {
      let rows: ReturnType<typeof parseXlsxHandover>;
      try {
        rows = parseXlsxHandover(bytes, 'schedule.xlsx');
      } catch (error) {
        expect(error).toBeInstanceOf(AgentError);
        expect(['CCTV_ERR_BAD_XLSX', 'CCTV_ERR_BAD_HANDOVER_CELL']).toContain((error as AgentError).code);
        return;
      }
      for (const row of rows) {
        if (row.ip !== null) expect(isIPv4(row.ip), `ip ${row.ip}`).toBe(true);
        if (row.mac !== null) expect(normaliseMac(row.mac)).not.toBeNull();
      }
    });
  });
});
