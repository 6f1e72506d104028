/**
 * Reading request headers that must appear once. Node's parser keeps only the first
 * `Authorization` line in `req.headers` and drops the others without a word, so a request with
 * two would be judged on one of them — while a proxy or a log in front may have read the other.
 * `req.rawHeaders` keeps every line as sent, so repetitions are counted there.
 */

/** True when the request carried the `Authorization` header more than once (any spelling of the name). */
export function repeatsAuthorization(rawHeaders: readonly string[]): boolean {
  let seen = 0;
  // rawHeaders is [name, value, name, value, …]; the length test spares the lowercasing of other names.
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}
