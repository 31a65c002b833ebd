/**
 * Property-based fuzzing of the XML helper every XML codec goes through (agent/protocols/xml.ts):
 * it must refuse what it promises to refuse (declarations, oversize input, nesting past its
 * limit) and round-trip what escapeXml writes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeXmlCharacterReferences, escapeXml, hasMarkupDeclaration, parseUntrustedXml, xmlChild, xmlRoot, xmlText, type XmlNode } from '../../agent/protocols/xml.js';
import { fixtures, fuzz, protocolInput, xmlSafeText } from './fuzz-support.js';

const RUNS = 300;
const MAX_BYTES = 64 * 1024;
const allXml = fixtures('wsdiscovery').concat(fixtures('onvif', '.xml'), fixtures('sadp', '.xml'), fixtures('upnp', '.xml'));

function depth(node: XmlNode): number {
  let deepest = 0;
  for (const child of node.children) deepest = Math.max(deepest, depth(child));
  return deepest + 1;
}

describe('parseUntrustedXml', () => {
  it('never throws; refuses declarations and oversize input; nests at most 100 elements', () => {
    fuzz(protocolInput(allXml), RUNS, (bytes) => {
      const doc = parseUntrustedXml(bytes, MAX_BYTES);
      if (bytes.length > MAX_BYTES || hasMarkupDeclaration(bytes.toString('utf8'))) expect(doc).toBeNull();
      if (doc) expect(depth(doc)).toBeLessThanOrEqual(101);
    });
  });

  it('refuses any document that declares an entity, wherever the declaration sits', () => {
    const declaration = fc.constantFrom('<!DOCTYPE r [<!ENTITY e "x">]>', '<!doctype r>', '<!ENTITY e SYSTEM "file:///etc/passwd">', '< !DOCTYPE r>', '<!ELEMENT r ANY>');
    fuzz(fc.tuple(fc.constantFrom(...allXml), declaration, fc.double({ min: 0, max: 1, noNaN: true })), RUNS, ([xml, decl, at]) => {
      const text = xml.toString('utf8');
      const cut = Math.floor(at * text.length);
      const doc = parseUntrustedXml(text.slice(0, cut) + decl + text.slice(cut), MAX_BYTES);
      if (hasMarkupDeclaration(decl)) expect(doc).toBeNull();
    });
  });

  it('round-trips text written with escapeXml, in elements and attributes', () => {
    fuzz(xmlSafeText, RUNS, (text) => {
      const root = xmlRoot(parseUntrustedXml(`<a v="${escapeXml(text)}"><b>${escapeXml(text)}</b></a>`, MAX_BYTES));
      expect(root).not.toBeNull();
      expect(xmlText(xmlChild(root, 'b'))).toBe(text);
      expect(root?.attributes.v).toBe(text);
    });
  });
});

describe('decodeXmlCharacterReferences', () => {
  it('never throws and decodes exactly what escapeXml encoded', () => {
    fuzz(fc.string({ maxLength: 200 }), RUNS, (text) => {
      decodeXmlCharacterReferences(text);
      const wellFormed = text.replace(/[\ud800-\udfff]/g, '');
      expect(decodeXmlCharacterReferences(escapeXml(wellFormed))).toBe(wellFormed);
    });
  });
});
