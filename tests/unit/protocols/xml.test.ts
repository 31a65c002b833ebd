import { describe, expect, it } from 'vitest';
import {
  decodeXmlCharacterReferences,
  escapeXml,
  hasMarkupDeclaration,
  parseUntrustedXml,
  xmlAttr,
  xmlChild,
  xmlChildren,
  xmlRoot,
  xmlText,
} from '../../../agent/protocols/xml.js';
import { seededRandom } from '../../seeded-random.js';

const CAP = 64 * 1024;

describe('parseUntrustedXml', () => {
  it('parses a document into an order-preserving tree with the root as the only child', () => {
    const doc = parseUntrustedXml('<?xml version="1.0"?><a><b>1</b><c/><b>2</b></a>', CAP);
    expect(doc?.name).toBe('');
    const root = xmlRoot(doc);
    expect(root?.name).toBe('a');
    expect(xmlChildren(root).map((n) => n.name)).toEqual(['b', 'c', 'b']);
    expect(xmlChildren(root, 'b').map((n) => n.text)).toEqual(['1', '2']);
    expect(xmlText(xmlChild(root, 'c'))).toBe('');
    expect(xmlChild(root, 'missing')).toBeNull();
    expect(xmlText(null)).toBeNull();
    expect(xmlChild(null, 'a')).toBeNull();
    expect(xmlChildren(undefined, 'a')).toEqual([]);
  });

  it('accepts Buffer and string input alike', () => {
    const text = '<r><v>x</v></r>';
    expect(parseUntrustedXml(Buffer.from(text), CAP)).toEqual(parseUntrustedXml(text, CAP));
    expect(parseUntrustedXml(new Uint8Array(Buffer.from(text)), CAP)).toEqual(parseUntrustedXml(text, CAP));
  });

  it('keeps every value a string: leading zeros, numbers, booleans, hex, exponents', () => {
    const root = xmlRoot(parseUntrustedXml('<r z="007"><a>0123</a><b>1e5</b><c>0x1F</c><d>true</d><e>8000</e></r>', CAP));
    expect(xmlChildren(root).map((n) => n.text)).toEqual(['0123', '1e5', '0x1F', 'true', '8000']);
    expect(xmlAttr(root, 'z')).toBe('007');
  });

  it('removes namespace prefixes from elements and attributes and drops xmlns declarations', () => {
    const doc = parseUntrustedXml(
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="urn:d" xmlns="urn:default">' +
        '<s:Header><a:Action s:mustUnderstand="1">urn:x</a:Action></s:Header>' +
        '<s:Body><d:ProbeMatches><d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter</d:Types></d:ProbeMatch></d:ProbeMatches></s:Body>' +
        '</s:Envelope>',
      CAP,
    );
    const envelope = xmlChild(doc, 'Envelope');
    expect(envelope).not.toBeNull();
    expect(Object.keys(envelope!.attributes)).toEqual([]);
    const action = xmlChild(xmlChild(envelope, 'Header'), 'Action');
    expect(xmlAttr(action, 'mustUnderstand')).toBe('1');
    // Values are not touched: a prefix inside text stays.
    const types = xmlChild(xmlChild(xmlChild(xmlChild(envelope, 'Body'), 'ProbeMatches'), 'ProbeMatch'), 'Types');
    expect(xmlText(types)).toBe('dn:NetworkVideoTransmitter');
  });

  it('trims text, tolerates a BOM, leading whitespace and trailing whitespace / NULs', () => {
    const root = xmlRoot(parseUntrustedXml('\uFEFF \n<?xml version="1.0"?>\n<r>\n\t<v>\n  V5.6.2build 190701 \n</v>\n</r>\n\0\0', CAP));
    expect(xmlText(xmlChild(root, 'v'))).toBe('V5.6.2build 190701');
  });

  it('decodes the predefined entities and character references once, and CDATA literally', () => {
    const root = xmlRoot(parseUntrustedXml('<r a="x&amp;y&#38;lt;"><t>AT&amp;T &lt;b&gt; &#65;&#x42; &quot;&apos; &bogus;</t><c><![CDATA[&amp;<raw>]]></c></r>', CAP));
    expect(xmlAttr(root, 'a')).toBe('x&y&lt;');
    expect(xmlText(xmlChild(root, 't'))).toBe('AT&T <b> AB "\' &bogus;');
    expect(xmlText(xmlChild(root, 'c'))).toBe('&amp;<raw>');
  });

  it('leaves invalid character references as written instead of refusing the document', () => {
    const refs = '&#0; &#xD800; &#x110000; &#12345678; &#xZ; &#; &#1; &#x10FFFF;';
    const written = '&#0; &#xD800; &#x110000; &#12345678; &#xZ; &#; \u0001 \u{10FFFF}';
    const root = xmlRoot(parseUntrustedXml(`<r a="${refs}"><t>${refs}</t></r>`, CAP));
    expect(xmlAttr(root, 'a')).toBe(written);
    expect(xmlText(xmlChild(root, 't'))).toBe(written);
    expect(written).toBe(decodeXmlCharacterReferences(refs));
  });

  it('reads a bare & (sloppy firmware) as itself, in text and attributes', () => {
    const root = xmlRoot(parseUntrustedXml('<r n="A&B"><t>Front & Back &amp; &x</t></r>', CAP));
    expect(xmlAttr(root, 'n')).toBe('A&B');
    expect(xmlText(xmlChild(root, 't'))).toBe('Front & Back & &x');
    expect(xmlText(xmlRoot(parseUntrustedXml('<r>a & <![CDATA[b & c &amp;]]> & d</r>', CAP)))).toBe('a &b & c &amp;& d'); // CDATA literal; pieces trimmed
  });

  it('drops comments and processing instructions', () => {
    const root = xmlRoot(parseUntrustedXml('<r><!-- note --><?pi x?><v>1</v></r>', CAP));
    expect(xmlChildren(root).map((n) => n.name)).toEqual(['v']);
  });

  it('enforces the byte cap on bytes, not characters', () => {
    const doc = `<r>${'x'.repeat(100)}</r>`;
    expect(parseUntrustedXml(doc, doc.length)).not.toBeNull();
    expect(parseUntrustedXml(doc, doc.length - 1)).toBeNull();
    expect(parseUntrustedXml(Buffer.from(doc), doc.length - 1)).toBeNull();
    const multibyte = `<r>${'é'.repeat(10)}</r>`; // 17 chars, 27 bytes
    expect(parseUntrustedXml(multibyte, 20)).toBeNull();
    expect(parseUntrustedXml(multibyte, 27)).not.toBeNull();
  });

  it('rejects huge input quickly', () => {
    const huge = Buffer.alloc(50 * 1024 * 1024, 0x3c);
    const start = performance.now();
    expect(parseUntrustedXml(huge, CAP)).toBeNull();
    expect(parseUntrustedXml(`<r>${'a'.repeat(10_000_000)}</r>`, CAP)).toBeNull();
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it('rejects DOCTYPE, ENTITY and any other markup declaration, wherever it appears', () => {
    const billionLaughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
      ']><lolz>&lol9;</lolz>';
    const cases = [
      billionLaughs,
      '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
      '<!doctype r><r/>',
      '<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>',
      '<r><!-- <!DOCTYPE r> --></r>',
      '<r><![CDATA[<!ENTITY x "y">]]></r>',
      '<r><!ELEMENT r ANY></r>',
      '<r><!ATTLIST r a CDATA #IMPLIED></r>',
      '<! DOCTYPE r><r/>',
    ];
    for (const text of cases) {
      const start = performance.now();
      expect(parseUntrustedXml(text, CAP)).toBeNull();
      expect(hasMarkupDeclaration(text)).toBe(true);
      expect(performance.now() - start).toBeLessThan(1000);
    }
    expect(hasMarkupDeclaration('<r><!-- fine --><![CDATA[ok]]></r>')).toBe(false);
  });

  it('returns null for malformed documents instead of throwing', () => {
    const bad = [
      '',
      '   ',
      'hello',
      '<a>',
      '<a><b></a>',
      '<a>1</a><b>2</b>',
      '<a x=1/>',
      '<a x="1" x="2"/>',
      '<a b/>',
      '<1a>x</1a>',
      '<a>x</a>trailing',
      '<a></b>',
      '<a>x</b></a>',
      '<a/><a/>',
      "<a x='1\"/>",
      '<a x="1"y="2"/>',
      '<a x="<"/>', // XML 1.0 §3.1: no `<` in an attribute value
      '<a>x]]>y</a>', // §2.4: `]]>` only ends a CDATA section
      '<a><!-- x -- y --></a>', // §2.5: no `--` inside a comment
      '<a><?xml version="1.0"?></a>', // §2.8: the XML declaration only at the very start
      '<?xml version="1.0"<a/>', // a declaration never closed
      '<a><![CDATA[x</a>',
      '<a><!-- x</a>',
      '<![CDATA[x]]><a/>',
      '<'.repeat(1000),
      '<a>'.repeat(200) + '</a>'.repeat(200), // deeper than 100
    ];
    for (const text of bad) expect(parseUntrustedXml(text, CAP), text.slice(0, 40)).toBeNull();
  });

  it('reads past an XML declaration whatever it says (firmware writes it carelessly), and only at the start', () => {
    for (const declaration of ['<?xml version="1.0"?>', '<?xml version="2.0"?>', '<?xml version="1.0" standalone="maybe"?>', '<?xml version="1.0"encoding="UTF-8"?>', '<?xml?>']) {
      expect(xmlRoot(parseUntrustedXml(`${declaration}\n<a>1</a>`, CAP))?.name, declaration).toBe('a');
    }
    // A processing instruction whose target only starts with "xml" is read as one (and dropped).
    expect(xmlText(xmlRoot(parseUntrustedXml('<?xml-stylesheet href="s.xsl"?><a>1</a>', CAP)))).toBe('1');
  });

  it('reads 100 nested elements and refuses 101, self-closing or not', () => {
    const nested = (depth: number, innermost: string): string => '<a>'.repeat(depth - 1) + innermost + '</a>'.repeat(depth - 1);
    for (const innermost of ['<a>x</a>', '<a/>']) {
      let node = xmlRoot(parseUntrustedXml(nested(100, innermost), CAP));
      let depth = 0;
      while (node) {
        depth++;
        node = xmlChild(node, 'a');
      }
      expect(depth).toBe(100);
      expect(parseUntrustedXml(nested(101, innermost), CAP)).toBeNull();
    }
    // Depth is nesting, not element count: 200 siblings at depth 2 are fine.
    expect(xmlChildren(xmlRoot(parseUntrustedXml(`<r>${'<a/>'.repeat(200)}</r>`, CAP)))).toHaveLength(200);
  });

  it('reads element and attribute names as plain strings: nothing leaks into prototypes', () => {
    const root = xmlRoot(
      parseUntrustedXml('<r toString="x" __proto__="p"><hasOwnProperty>1</hasOwnProperty><__proto__><x>2</x></__proto__><constructor/><prototype/></r>', CAP),
    );
    expect(xmlChildren(root).map((n) => n.name)).toEqual(['hasOwnProperty', '__proto__', 'constructor', 'prototype']);
    expect(xmlText(xmlChild(xmlChild(root, '__proto__'), 'x'))).toBe('2');
    expect(xmlAttr(root, 'toString')).toBe('x');
    expect(xmlAttr(root, '__proto__')).toBe('p');
    expect(Object.getPrototypeOf(root!.attributes)).toBeNull();
    expect(xmlAttr(root, 'valueOf')).toBeNull();
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(xmlAttr(xmlRoot(parseUntrustedXml('<r/>', CAP)), 'constructor')).toBeNull();
  });

  it('reads control characters in text and attribute values as themselves, and nowhere else', () => {
    // XML 1.0 §2.2 leaves them out of Char, but firmware sends them (NUL padding, terminal escapes);
    // agent/safe-text.ts cleans device values of them at ingest.
    const root = xmlRoot(parseUntrustedXml('<r n="A\u0001B"><v>DS\u0000\u0000 2CD\u001b[2J\u0007</v><c><![CDATA[\u0002]]></c><u>\uFFFE\uFFFF</u></r>', CAP));
    expect(xmlAttr(root, 'n')).toBe('A\u0001B');
    expect(xmlText(xmlChild(root, 'v'))).toBe('DS\u0000\u0000 2CD\u001b[2J\u0007');
    expect(xmlText(xmlChild(root, 'c'))).toBe('\u0002');
    expect(xmlText(xmlChild(root, 'u'))).toBe('\uFFFE\uFFFF');
    expect(parseUntrustedXml(Buffer.from('<r>a\u0001b</r>'), CAP)).not.toBeNull();
    for (const text of ['<r\u0001/>', '<r a\u0001="1"/>', '<r a="1"\u0001/>', '<r></r\u0001>', '\u0001<r/>', '<r/>\u0001x', '<r/>\u0001']) {
      expect(parseUntrustedXml(text, CAP), JSON.stringify(text)).toBeNull();
    }
  });

  it('reads a string as the UTF-8 it would be sent as: a lone surrogate becomes U+FFFD', () => {
    for (const lone of ['\uD800', '\uDC00']) {
      const text = `<r a="${lone}"><v>x${lone}</v></r>`;
      const root = xmlRoot(parseUntrustedXml(text, CAP));
      expect(xmlAttr(root, 'a')).toBe('\uFFFD');
      expect(xmlText(xmlChild(root, 'v'))).toBe('x\uFFFD');
      expect(parseUntrustedXml(Buffer.from(text), CAP)).toEqual(parseUntrustedXml(text, CAP));
    }
  });

  it('applies the XML 1.0 line-end and attribute-value normalisation, whatever the declared version', () => {
    const root = xmlRoot(parseUntrustedXml('<?xml version="1.1"?><r a="x\ty\r\nz&#10;"><v>p\r\nq\rs\u0085t</v></r>', CAP));
    expect(xmlAttr(root, 'a')).toBe('x y z\n'); // §3.3.3: literal white space is a space, a reference stays
    expect(xmlText(xmlChild(root, 'v'))).toBe('p\nq\ns\u0085t'); // §2.11; U+0085 is a line end only in XML 1.1
  });

  it('survives random bytes and random XML-ish text without throwing', () => {
    const rand = seededRandom(0x786d6c);
    const alphabet = '<>/="\'!?&;#[]-: abcxyzAB01\n\t';
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rand() * 300);
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = Math.floor(rand() * 256);
      expect(() => parseUntrustedXml(bytes, CAP)).not.toThrow();
      let text = '';
      for (let j = 0; j < len; j++) text += alphabet[Math.floor(rand() * alphabet.length)];
      expect(() => parseUntrustedXml(text, CAP)).not.toThrow();
    }
  });

  it('parses a near-cap document in reasonable time', () => {
    const doc = `<r>${'<b x="1">y</b>'.repeat(4000)}</r>`;
    const start = performance.now();
    expect(xmlChildren(xmlRoot(parseUntrustedXml(doc, CAP)), 'b')).toHaveLength(4000);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('character helpers', () => {
  it('decodes single-pass and leaves invalid references alone', () => {
    expect(decodeXmlCharacterReferences('&amp;amp; &#0; &#xD800; &#x110000; &#1114111; & &')).toBe(
      '&amp; &#0; &#xD800; &#x110000; \u{10FFFF} & &',
    );
  });

  it('escapeXml round-trips through the parser', () => {
    const value = `a&b<c>"d"'e' &amp;`;
    const root = xmlRoot(parseUntrustedXml(`<r v="${escapeXml(value)}">${escapeXml(value)}</r>`, CAP));
    expect(xmlText(root)).toBe(value);
    expect(xmlAttr(root, 'v')).toBe(value);
  });
});
