/**
 * Is a citation checkable from a clone? A `source:` in fingerprints/ or a comment citing a fact
 * must name the public source itself, so that anyone with the repository and a browser can look
 * it up: either a URL (`https://…`), or `owner/repo path@commit` for data transcribed from a
 * public Git repository (the GitHub form `owner/name`, a path inside it, the commit it was read
 * at). A pointer into notes that are not in the repository (a section of a team fact sheet) is
 * not checkable.
 */

/** `http(s)://` followed by a host name with at least one dot (a public address, not `localhost`). */
const URL_PATTERN = /\bhttps?:\/\/[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+/i;

/**
 * `owner/repo path@commit`: a GitHub owner (letters, digits, single hyphens, at most 39
 * characters), a repository name, one space, a path without spaces, `@` and 7 to 40 hex digits of
 * a commit (an abbreviated hash still resolves in a clone of the repository).
 */
const REPOSITORY_FILE_PATTERN =
  /(?<![\w./-])[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}\/[\w.-]{1,100} [^\s@]+@[0-9a-f]{7,40}(?![0-9a-z])/i;

export function isCheckableCitation(text: string): boolean {
  return URL_PATTERN.test(text) || REPOSITORY_FILE_PATTERN.test(text);
}

/** The words an entry uses, instead of a citation, when no public source could be found for it. */
const DECLARED_GAP = /no public source found/i;

/** Whether a `source` says, in so many words, that no public source was found (reported, not refused). */
export function declaresNoPublicSource(text: string): boolean {
  return !isCheckableCitation(text) && DECLARED_GAP.test(text);
}
