/**
 * `{ [key]: v }` when `v` is defined, else `{}`: spreads optional properties without writing
 * `undefined` values (the code is compiled with exactOptionalPropertyTypes).
 */
export function definedEntry<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return v === undefined ? {} : ({ [key]: v } as { [P in K]: V });
}
