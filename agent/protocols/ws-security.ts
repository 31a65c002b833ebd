/**
 * WS-Security UsernameToken with PasswordDigest (OASIS Web Services Security UsernameToken
 * Profile 1.0 §3.1), as ONVIF requires it (ONVIF Core Specification §5.12.2). Pure: no I/O.
 *
 *   PasswordDigest = Base64( SHA-1( nonce + created + password ) )
 *
 * where nonce is the raw bytes (sent Base64-encoded), created the UTC time of the token as sent.
 * The device checks `Created` against ITS OWN clock, so a client signs with the device's time
 * (clock offset from GetSystemDateAndTime), not its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { escapeXml } from './xml.js';

const NS_WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const NS_WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const PASSWORD_DIGEST = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const BASE64_BINARY = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';

/** Base64( SHA-1( nonce + created + password ) ), the strings taken as UTF-8. */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1').update(nonce).update(created, 'utf8').update(password, 'utf8').digest('base64');
}

/** xs:dateTime in UTC without fractions (`2010-09-16T07:50:45Z`), as the profile's examples write it. */
export function createdTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface UsernameTokenInput {
  readonly username: string;
  readonly password: string;
  /** The DEVICE's current time (epoch ms): the local clock plus the device's measured offset. */
  readonly deviceTimeMs: number;
  /** 16 random bytes by default. */
  readonly nonce?: Buffer;
}

/** The `wsse:Security` header block carrying a UsernameToken with a PasswordDigest. */
export function usernameTokenHeader(input: UsernameTokenInput): string {
  const nonce = input.nonce ?? randomBytes(16);
  const created = createdTimestamp(input.deviceTimeMs);
  return (
    `<wsse:Security xmlns:wsse="${NS_WSSE}" xmlns:wsu="${NS_WSU}">` +
    '<wsse:UsernameToken>' +
    `<wsse:Username>${escapeXml(input.username)}</wsse:Username>` +
    `<wsse:Password Type="${PASSWORD_DIGEST}">${passwordDigest(nonce, created, input.password)}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${BASE64_BINARY}">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created>` +
    '</wsse:UsernameToken>' +
    '</wsse:Security>'
  );
}
