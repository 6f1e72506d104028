/**
 * Hostile values for the fuzz tests: ids (separators, `__proto__`, `constructor`, unicode, lone
 * surrogates, NUL, very long), session ids and token values (real ones, tampered, forged,
 * random), objects with own `__proto__` keys, and values of the wrong type.
 */
import fc from 'fast-check';
import { HOSTILE_IDS } from '../conformance/harness.js';

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'] as const;

/** Strings a careless parser, map or key builder trips over. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_IDS, ...PROTO_KEYS, '', ' ', ':', ';;', '%', '%00', '%zz', '..', '/', '\\', '\n', '\t', '\r\n', '{x}', '*', '?', '\uD800', 'a\uDC00b', '\uFEFF', '\u202E', '🙂'.repeat(3)) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  // Arbitrary UTF-16 code units: lone surrogates included.
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(';', ':', ' ', '\t', '\n', '%', '{', '}', '[', ']', '=', '&', '\u0000', 'a', 'é', '.', '/'), maxLength: 24 }) },
  // Lengths around the documented bounds (ids 4096, token values 8192, session ids 40 000).
  { weight: 1, arbitrary: fc.constantFrom(256, 257, 2048, 4096, 4097, 8192, 8193, 40_000, 40_001, 70_000).chain((n) => fc.constantFrom('x', 'é', '🙂', '%').map((c) => c.repeat(n).slice(0, n))) },
);

/** A value of the wrong type (or a right type with odd content). */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, 0, -1, 1.5, NaN, Infinity, -Infinity, -0, true, false, 10n, Symbol('s'), [], {}, [''], ['a', 'b'], new Date(0), /x/, () => 'f'),
  fc.integer(),
  fc.double(),
  fc.array(hostileString, { maxLength: 3 }),
);

/** Any value: mostly hostile strings. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: wrongType });

/** Keys for hostile objects: prototype-reaching names and ordinary ones. */
const keyArb = fc.oneof(fc.constantFrom(...PROTO_KEYS, 'client_id', 'scope', 'response_type', 'redirect_uri', 'expiresIn', 'maxUsage', 'supportsMinting', 'format'), hostileString);

/**
 * A plain object that may have own `__proto__`/`constructor` keys. Built through JSON.parse,
 * which (unlike assignment) creates `__proto__` as an ordinary own property — what a JSON body
 * or a loaded file would give the library.
 */
export const hostileObject: fc.Arbitrary<Record<string, unknown>> = fc
  .array(fc.tuple(keyArb, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 })
  .map((entries) => JSON.parse(`{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`) as Record<string, unknown>);

/** An object or a wrong value. */
export const anyObject: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: hostileObject }, { weight: 1, arbitrary: wrongType });

/** Mutations of a real value: one character changed, cut, extended, re-encoded, case-flipped. */
export function tampered(values: readonly string[]): fc.Arbitrary<string> {
  if (values.length === 0) return hostileString;
  return fc.tuple(fc.constantFrom(...values), fc.nat(), fc.constantFrom('flip', 'cut', 'extend', 'std-base64', 'pad', 'upper', 'double', 'space')).map(([v, i, how]) => {
    const at = v.length === 0 ? 0 : i % v.length;
    switch (how) {
      case 'flip':
        return v.slice(0, at) + (v[at] === 'A' ? 'B' : 'A') + v.slice(at + 1);
      case 'cut':
        return v.slice(0, at);
      case 'extend':
        return `${v}A`;
      case 'std-base64':
        return v.replace(/-/g, '+').replace(/_/g, '/');
      case 'pad':
        return `${v}==`;
      case 'upper':
        return v.toUpperCase();
      case 'double':
        return v + v;
      default:
        return ` ${v}`;
    }
  });
}

/** A forged token value: a real route prefix with random base64url, or a JWT-looking string. */
export function forgedTokens(values: readonly string[]): fc.Arbitrary<string> {
  const routes = [...new Set(values.filter((v) => !v.startsWith('eyJ')).map((v) => v.slice(0, 3)))];
  const b64 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 0, maxLength: 60 });
  const jwts = values.filter((v) => v.startsWith('eyJ'));
  return fc.oneof(
    routes.length > 0 ? fc.tuple(fc.constantFrom(...routes), b64).map(([r, s]) => r + s) : b64,
    b64.map((s) => `eyJ${s}.${s}.${s}`),
    // A real JWT with its payload, header or signature swapped for another's or emptied.
    jwts.length > 0
      ? fc.tuple(fc.constantFrom(...jwts), fc.constantFrom(...jwts), fc.nat({ max: 2 })).map(([a, b, part]) => {
          const pa = a.split('.');
          const pb = b.split('.');
          pa[part] = pb[(part + 1) % 3]!;
          return pa.join('.');
        })
      : b64,
    fc.constant('eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.'),
  );
}

/** A pick among real values, tampered ones, forged ones and hostile strings/values. */
export function valueLike(real: readonly string[], forged?: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  const arbs: Array<fc.WeightedArbitrary<unknown>> = [
    { weight: 3, arbitrary: tampered(real) },
    { weight: 3, arbitrary: hostileString },
    { weight: 1, arbitrary: wrongType },
  ];
  if (real.length > 0) arbs.push({ weight: 3, arbitrary: fc.constantFrom(...real) });
  if (forged) arbs.push({ weight: 2, arbitrary: forged });
  return fc.oneof(...arbs);
}
