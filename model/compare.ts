/**
 * The one string order of policyc: by UTF-16 code unit, as `<` compares. Output must not depend on the
 * machine's locale (`localeCompare` does), so everything sorted for output or for stable keys uses this.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
