/**
 * Text from the user's repository (a policy file path, a name in a rule) as policyc writes it into output text,
 * a header comment or an annotation: every character that could end a line or hide text (line breaks of YAML
 * 1.1 and 1.2, other control and invisible formatting characters) is escaped as `\uXXXX`, so no such text adds
 * a key, a line or a document.
 */
export function escapeInvisible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g, unicodeEscape);
}

/** A file name as it is when it holds only path characters, otherwise quoted, with quote and backslash escaped too. */
export function printableName(name: string): string {
  return /^[A-Za-z0-9._/@+-]+$/.test(name) ? name : `"${escapeInvisible(name.replace(/["\\]/g, unicodeEscape))}"`;
}

function unicodeEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
