/**
 * The Lua scripts of {@link RedisStore}: one per store operation, each one atomic step in Redis.
 *
 * Conventions shared by every script:
 * - `ARGV[1]` is the key base `<prefix>{<route>}`; every key a script touches is built from it,
 *   so all of them hash to the slot of `KEYS[1]` (Redis Cluster safe).
 * - A script first reads and checks, and writes only once nothing can fail any more, so an
 *   error can never leave a half-applied operation behind.
 * - Records are strings whose tab-separated header the scripts read; JSON bodies are copied
 *   verbatim, never decoded (see `codec.ts`).
 * - Every write ends with `settle`: it prunes up to {@link PRUNE_PER_WRITE} expired members of
 *   the user's expiry index and sets the TTL of the user's keys to their longest-lived member.
 */
import { createHash } from 'node:crypto';
import { GRANT_HASH_LENGTH } from './keys.js';

/** Expired index members a write removes on the side (bounded work, field fault 18). */
export const PRUNE_PER_WRITE = 16;
/** TTL of a user node with nothing below it (no grant, no browser session). */
export const EMPTY_USER_TTL_MS = 24 * 3600 * 1000;

const G = GRANT_HASH_LENGTH;
/** Lua patterns of a token header (12 fields, then the rest) and of a marker (8 fields). */
const FIELD = '\\t([^\\t\\n]*)';
const TOKEN_PATTERN = `^(T.)${FIELD.repeat(11)}(.*)$`;
const MARKER_PATTERN = `^(M)${FIELD.repeat(7)}$`;

/** What every script starts with. */
const HEADER = `
local B = ARGV[1]
local GL = ${G}
`;

/** Helpers the scripts share; each script gets only those it uses (see {@link preludeFor}). */
const HELPERS_SOURCE = `
local function split(s, sep)
  local out, i, n = {}, 1, 0
  while true do
    local j = string.find(s, sep, i, true)
    n = n + 1
    if not j then out[n] = string.sub(s, i); return out end
    out[n] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

-- Header fields of a token or marker, and the rest from its first newline on ('' when there is
-- none). One pattern match does what a loop of find and sub calls did, for a fraction of the CPU.
local function head(v)
  local h = {string.match(v, string.byte(v, 1) == 77 and '${MARKER_PATTERN}' or '${TOKEN_PATTERN}')}
  if h[1] then
    local rest = h[13] or ''
    h[13] = nil
    return h, rest
  end
  local nl = string.find(v, '\\n', 1, true)
  if nl then return split(string.sub(v, 1, nl - 1), '\\t'), string.sub(v, nl) end
  return split(v, '\\t'), ''
end

local function firstLine(v)
  local nl = string.find(v, '\\n', 1, true)
  if nl then return string.sub(v, 1, nl - 1) end
  return v
end

-- The escaped user id of a user record.
local function userIdOf(u) return string.match(u, '^[^\\t\\n]*\\t[^\\t\\n]*\\t([^\\t\\n]*)') end

-- True when the grant record names (client, grant); both escaped.
local function isGrant(gv, cid, gid)
  local p = cid .. '\\t' .. gid .. '\\t'
  return string.sub(gv, 3, 2 + #p) == p
end

-- The escaped client id of a grant record.
local function clientOf(gv) return string.match(gv, '^[^\\t\\n]*\\t([^\\t\\n]*)') end

-- The expiry of a grant record.
local function expiryOf(gv) return tonumber(string.match(gv, '^[^\\t\\n]*\\t[^\\t\\n]*\\t[^\\t\\n]*\\t([^\\t\\n]*)')) end

-- The scope of a grant record.
local function scopeOf(gv) return string.match(gv, '^[^\\t\\n]*\\t[^\\t\\n]*\\t[^\\t\\n]*\\t[^\\t\\n]*\\t([^\\t\\n]*)') end

local function family(f, id)
  if f == '' then return nil end
  if f == '%=' then return id end
  return f
end

local function revoked(v) return '1' .. string.sub(v, 2) end

local function tokenKey(member) return B .. 't:' .. string.sub(member, GL + 2) end

local function delChunked(keys)
  for i = 1, #keys, 500 do
    redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
  end
end

local function zremChunked(xk, members)
  for i = 1, #members, 500 do
    redis.call('ZREM', xk, unpack(members, i, math.min(i + 499, #members)))
  end
end

-- Removes index members (and what they stand for) whose expiry is at or before now.
local function prune(uk, xk, now, limit)
  local dead = redis.call('ZRANGE', xk, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  if #dead == 0 then return 0 end
  local keys = {}
  for _, m in ipairs(dead) do
    local c = string.sub(m, 1, 1)
    if c == 'g' then redis.call('HDEL', uk, m)
    elseif c == 't' then keys[#keys + 1] = tokenKey(m) end
    -- 'b' (every browser session has expired): the dead lines go at the next rewrite of the user.
  end
  if #keys > 0 then delChunked(keys) end
  zremChunked(xk, dead)
  return #dead
end

-- The largest expiry in the index, or nil when it is empty.
local function zmax(xk)
  local top = redis.call('ZRANGE', xk, -1, -1, 'WITHSCORES')
  return top[2] and tonumber(top[2])
end

-- Both keys of the user expire with the index's longest-lived member (off: records' clock ->
-- Redis' clock); a user with nothing below it lingers a day at most.
local function expireAt(uk, xk, last, off)
  if last then
    local at = math.max(1, math.ceil(last + off))
    redis.call('PEXPIREAT', xk, at)
    redis.call('PEXPIREAT', uk, at)
  elseif redis.call('EXISTS', uk) == 1 then
    local ttl = redis.call('PTTL', uk)
    if ttl == -1 or ttl > ${EMPTY_USER_TTL_MS} then redis.call('PEXPIRE', uk, ${EMPTY_USER_TTL_MS}) end
  end
end

-- Ends every write: prunes up to limit (default PRUNE_PER_WRITE) expired index members, then
-- keeps the TTLs on the longest-lived member. A write that only added members passes
-- before = the index's largest expiry before it (or 'empty') and added = the largest it added:
-- then the TTLs are touched only if the largest expiry grew. Without before, they are recomputed.
local function settle(uk, xk, now, off, limit, before, added)
  limit = limit or ${PRUNE_PER_WRITE}
  if limit > 0 then prune(uk, xk, now, limit) end
  local t = tonumber(now)
  if before == 'empty' then
    expireAt(uk, xk, zmax(xk), off)
  elseif before and before > t then
    -- The longest-lived member was not pruned: only a larger new one can move the TTLs.
    if added and added > before then expireAt(uk, xk, added, off) end
  else
    expireAt(uk, xk, zmax(xk), off)
  end
end

-- Ends a write that only added tokens (largest expiry: added) to a grant whose expiry is gexp.
-- The grant is in the index and the TTLs reach its expiry already, and tokens don't outlive
-- their grant (the manager caps them), so the TTLs are recomputed only for a token that does or
-- when the grant itself has expired; otherwise the write costs no read of the index's maximum.
local function settleTokens(uk, xk, now, off, gexp, added)
  prune(uk, xk, now, ${PRUNE_PER_WRITE})
  if added and (added > gexp or gexp <= tonumber(now)) then expireAt(uk, xk, zmax(xk), off) end
end

-- The largest expiry among a user record's browser sessions, or nil.
local function sessionsMax(u)
  local last
  local lines = split(u, '\\n')
  for i = 2, #lines do
    local e = tonumber(split(lines[i], '\\t')[3])
    if not last or e > last then last = e end
  end
  return last
end

-- Writes the user record and keeps its index member 'b' on its longest-lived browser session.
local function setUser(uk, xk, u)
  redis.call('HSET', uk, 'u', u)
  local last = sessionsMax(u)
  if last then redis.call('ZADD', xk, last, 'b') else redis.call('ZREM', xk, 'b') end
end

-- The index's largest expiry before a write that only adds, in the form settle takes.
local function before(xk)
  return zmax(xk) or 'empty'
end

-- The live tokens of a grant, as {key, v, h}; its reuse markers too when withMarkers.
local function grantTokens(xk, gh, withMarkers)
  local pref = 't' .. gh
  local out = {}
  for _, m in ipairs(redis.call('ZRANGE', xk, 0, -1)) do
    if string.sub(m, 1, GL + 1) == pref then
      local key = tokenKey(m)
      local v = redis.call('GET', key)
      if v and (withMarkers or string.sub(v, 1, 1) == 'T') then out[#out + 1] = {key = key, v = v, h = (head(v))} end
    end
  end
  return out
end

-- Revokes the tokens that descend from roots or belong to fams (lineage.ts, iteratively). With
-- markerFamilies, a root that is a rotated-out refresh token (only its marker is left) also
-- reaches its rotation family, as a live member would.
local function revokeDescendants(xk, gh, roots, fams, markerFamilies)
  local byId, children, byFam = {}, {}, {}
  local isRoot = {}
  for _, r in ipairs(roots) do isRoot[r] = true end
  for _, t in ipairs(grantTokens(xk, gh, markerFamilies)) do
    local h = t.h
    if h[1] == 'M' then
      local f = family(h[6], h[4])
      if isRoot[h[4]] and h[5] == 'r' and f then fams[#fams + 1] = f end
    else
      t.id = h[4]; t.rev = h[1] == 'T1'; t.cls = h[5]; t.fam = family(h[7], h[4])
      byId[t.id] = t
      if h[6] ~= '' then
        local l = children[h[6]]
        if not l then l = {}; children[h[6]] = l end
        l[#l + 1] = t
      end
      if t.fam then
        local l = byFam[t.fam]
        if not l then l = {}; byFam[t.fam] = l end
        l[#l + 1] = t
      end
    end
  end
  local queue, seen, seenFam, count = {}, {}, {}, 0
  for _, r in ipairs(roots) do queue[#queue + 1] = r end
  local function visitFamily(f)
    if seenFam[f] then return end
    seenFam[f] = true
    for _, t in ipairs(byFam[f] or {}) do queue[#queue + 1] = t.id end
  end
  for _, f in ipairs(fams) do visitFamily(f) end
  while #queue > 0 do
    local id = table.remove(queue)
    if not seen[id] then
      seen[id] = true
      local t = byId[id]
      if t then
        if not t.rev then
          redis.call('SET', t.key, 'T1' .. string.sub(t.v, 3), 'KEEPTTL')
          t.rev = true
          count = count + 1
        end
        if t.fam and t.cls == 'r' then visitFamily(t.fam) end
      end
      for _, c in ipairs(children[id] or {}) do queue[#queue + 1] = c.id end
    end
  end
  return count
end

-- Writes n tokens given from ARGV[at + 1] on as (hash, pre, scope, post, pxat, score).
-- Returns the largest expiry it added (nil for none).
local function writeTokens(xk, gh, gv, at)
  local gscope = scopeOf(gv)
  local n = tonumber(ARGV[at])
  local added
  local z = {}
  for i = 0, n - 1 do
    local a = at + 1 + i * 6
    local scope = ARGV[a + 2]
    if scope == gscope then scope = ' ' end
    redis.call('SET', B .. 't:' .. ARGV[a], ARGV[a + 1] .. scope .. ARGV[a + 3], 'PXAT', ARGV[a + 4])
    z[#z + 1] = ARGV[a + 5]
    z[#z + 1] = 't' .. gh .. ARGV[a]
    local e = tonumber(ARGV[a + 5])
    if not added or e > added then added = e end
  end
  -- One ZADD for all of them (in chunks: unpack has a bounded stack).
  for i = 1, #z, 1000 do
    redis.call('ZADD', xk, unpack(z, i, math.min(i + 999, #z)))
  end
  return added
end

-- Removes grants (a set of grant hashes) with their tokens and markers; the client stays.
local function removeGrants(uk, xk, set)
  local keys, members = {}, {}
  for _, m in ipairs(redis.call('ZRANGE', xk, 0, -1)) do
    local c = string.sub(m, 1, 1)
    if c == 't' and set[string.sub(m, 2, GL + 1)] then
      keys[#keys + 1] = tokenKey(m)
      members[#members + 1] = m
    elseif c == 'g' and set[string.sub(m, 2)] then
      members[#members + 1] = m
    end
  end
  if #keys > 0 then delChunked(keys) end
  if #members > 0 then zremChunked(xk, members) end
  for gh in pairs(set) do redis.call('HDEL', uk, 'g' .. gh) end
end
`;

/** Script bodies by operation. Argument lists are documented next to each call in redis-store.ts. */
const BODIES = {
  // KEYS: token. ARGV: base. -> {token, user, grant, client} | nil
  findToken: `
local v = redis.call('GET', KEYS[1])
if not v then return false end
local uh, gh = string.match(v, '^[^\\t]*\\t([^\\t]*)\\t([^\\t\\n]*)')
local uk = B .. 'u:' .. uh
local r = redis.call('HMGET', uk, 'u', 'g' .. gh)
if not r[1] or not r[2] then return false end
local c = redis.call('HGET', uk, 'c' .. string.match(r[2], '^[^\\t]*\\t([^\\t\\n]*)'))
if not c then return false end
return {v, r[1], r[2], c}
`,

  // KEYS: token. ARGV: base, now, off, tokenId, policy, graceMs, then writeTokens' list.
  consume: `
local tk = KEYS[1]
local v = redis.call('GET', tk)
if not v then return {'unknown'} end
local h, rest = head(v)
local uk, xk, gh = B .. 'u:' .. h[2], B .. 'x:' .. h[2], h[3]
local gf = 'g' .. gh
local gv = redis.call('HGET', uk, gf)
if not gv then return {'unknown'} end
local now = tonumber(ARGV[2])
local function reuse(id, fam)
  local policy = ARGV[5]
  if policy == 'grant' then
    redis.call('HSET', uk, gf, revoked(gv))
    return 'grant'
  elseif policy == 'descendants' then
    local fams = {}
    if fam then fams[1] = fam end
    revokeDescendants(xk, gh, {id}, fams)
    return 'descendants'
  end
  return 'nothing'
end
if h[1] == 'M' then
  -- A retry within the grace window revokes nothing; a window of 0 is no window at all.
  local grace = tonumber(ARGV[6])
  if grace > 0 and now - tonumber(h[7]) <= grace then return {'reused', 'nothing'} end
  return {'reused', reuse(h[4], family(h[6], h[4]))}
end
if h[4] ~= ARGV[4] then return {'unknown'} end
if h[1] == 'T1' then return {'revoked'} end
local used, max = tonumber(h[8]), tonumber(h[9])
if max and used >= max then return {'reused', reuse(h[4], family(h[7], h[4]))} end
used = used + 1
if max and used >= max then
  redis.call('SET', tk, table.concat({'M', h[2], h[3], h[4], h[5], h[7], ARGV[2], h[11]}, '\\t'), 'KEEPTTL')
else
  h[8] = tostring(used)
  h[10] = ARGV[2]
  redis.call('SET', tk, table.concat(h, '\\t') .. rest, 'KEEPTTL')
end
local added = writeTokens(xk, gh, gv, 7)
settleTokens(uk, xk, ARGV[2], tonumber(ARGV[3]), expiryOf(gv), added)
return {'ok'}
`,

  // KEYS: user. ARGV: base, userHash, now, off, newUser, userId, clientField, newClient, grantField,
  //   grant header, expiresAt, clientId, grantId, grant body. The grant gets the user's next sequence number.
  //   -> {user, client, grant} as stored | 'collision'
  createGrant: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local r = redis.call('HMGET', uk, 'u', ARGV[9], ARGV[7])
local u, g, c = r[1], r[2], r[3]
if u and userIdOf(u) ~= ARGV[6] then return 'collision' end
if g and not isGrant(g, ARGV[12], ARGV[13]) then return 'collision' end
local top = before(xk)
local set = {}
if not u then
  u = ARGV[5]
  set[1] = 'u'
  set[2] = u
end
if not c or string.sub(c, 1, 1) == '1' then
  c = ARGV[8]
  set[#set + 1] = ARGV[7]
  set[#set + 1] = c
end
local gv = ARGV[10] .. '\\t' .. redis.call('HINCRBY', uk, 'n', 1) .. ARGV[14]
set[#set + 1] = ARGV[9]
set[#set + 1] = gv
redis.call('HSET', uk, unpack(set))
redis.call('ZADD', xk, ARGV[11], ARGV[9])
settle(uk, xk, ARGV[3], tonumber(ARGV[4]), nil, top, tonumber(ARGV[11]))
return {u, c, gv}
`,

  // KEYS: user. ARGV: base, userHash, now, off, clientField, grantField, then the user, client
  //   and grant records the tokens were built on, then writeTokens' list. -> 'ok' | 'stale' | 'gone'
  mintFromGrant: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local r = redis.call('HMGET', uk, 'u', ARGV[5], ARGV[6])
if not r[3] then return 'gone' end
if r[1] ~= ARGV[7] or r[2] ~= ARGV[8] or r[3] ~= ARGV[9] then return 'stale' end
local added = writeTokens(xk, string.sub(ARGV[6], 2), r[3], 10)
settleTokens(uk, xk, ARGV[3], tonumber(ARGV[4]), expiryOf(r[3]), added)
return 'ok'
`,

  // KEYS: user. ARGV: base, userHash, now, off, grantHash, clientId, grantId, then writeTokens' list.
  addTokens: `
local uk, xk, gh = KEYS[1], B .. 'x:' .. ARGV[2], ARGV[5]
local gv = redis.call('HGET', uk, 'g' .. gh)
if not gv or not isGrant(gv, ARGV[6], ARGV[7]) then return 0 end
local added = writeTokens(xk, gh, gv, 8)
settleTokens(uk, xk, ARGV[3], tonumber(ARGV[4]), expiryOf(gv), added)
return 1
`,

  // KEYS: user. ARGV: base, grantField, clientId, grantId.
  revokeGrant: `
local gv = redis.call('HGET', KEYS[1], ARGV[2])
if not gv or not isGrant(gv, ARGV[3], ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], revoked(gv))
return 1
`,

  // KEYS: user. ARGV: base, clientField, clientId.
  revokeClient: `
local uk = KEYS[1]
local c = redis.call('HGET', uk, ARGV[2])
if not c then return 0 end
local all = redis.call('HGETALL', uk)
redis.call('HSET', uk, ARGV[2], revoked(c))
for i = 1, #all, 2 do
  local f, v = all[i], all[i + 1]
  if string.sub(f, 1, 1) == 'g' and clientOf(v) == ARGV[3] then redis.call('HSET', uk, f, revoked(v)) end
end
return 1
`,

  // KEYS: user. ARGV: base, userHash, grantHash, clientId, grantId, tokenId.
  revokeToken: `
local gv = redis.call('HGET', KEYS[1], 'g' .. ARGV[3])
if not gv or not isGrant(gv, ARGV[4], ARGV[5]) then return 0 end
return revokeDescendants(B .. 'x:' .. ARGV[2], ARGV[3], {ARGV[6]}, {}, true)
`,

  // KEYS: user. ARGV: base, userHash, keepOffline (1|0), now, off. -> the user HASH as it was | nil
  logoutUser: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local all = redis.call('HGETALL', uk)
local u
for i = 1, #all, 2 do if all[i] == 'u' then u = all[i + 1] end end
if not u then return false end
local f = split(firstLine(u), '\\t')
f[1] = tostring(tonumber(f[1]) + 1)
setUser(uk, xk, table.concat(f, '\\t'))
if ARGV[3] == '0' then
  for i = 1, #all, 2 do
    local c = string.sub(all[i], 1, 1)
    if c == 'c' or c == 'g' then redis.call('HSET', uk, all[i], revoked(all[i + 1])) end
  end
end
settle(uk, xk, ARGV[4], tonumber(ARGV[5]))
return all
`,

  // KEYS: user. ARGV: base, userHash, now, off, newUser, userId, sessionId, createdAt, expiresAt. -> user record
  addBrowserSession: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local u = redis.call('HGET', uk, 'u')
if u and userIdOf(u) ~= ARGV[6] then return false end
u = u or ARGV[5]
local lines = split(u, '\\n')
local epoch = split(lines[1], '\\t')[1]
local created = tonumber(ARGV[8])
local out = {lines[1]}
for i = 2, #lines do
  local s = split(lines[i], '\\t')
  if s[1] ~= ARGV[7] and tonumber(s[3]) > created then out[#out + 1] = lines[i] end
end
out[#out + 1] = table.concat({ARGV[7], ARGV[8], ARGV[9], epoch}, '\\t')
u = table.concat(out, '\\n')
setUser(uk, xk, u)
settle(uk, xk, ARGV[3], tonumber(ARGV[4]))
return u
`,

  // KEYS: user. ARGV: base, userHash, now, off, sessionId.
  removeBrowserSession: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local u = redis.call('HGET', uk, 'u')
if not u then return 0 end
local lines = split(u, '\\n')
local out, found = {lines[1]}, false
for i = 2, #lines do
  if split(lines[i], '\\t')[1] == ARGV[5] then found = true else out[#out + 1] = lines[i] end
end
if not found then return 0 end
setUser(uk, xk, table.concat(out, '\\n'))
settle(uk, xk, ARGV[3], tonumber(ARGV[4]))
return 1
`,

  // KEYS: user. ARGV: base, userHash.
  removeUser: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
if redis.call('EXISTS', uk) == 0 then return 0 end
local keys = {}
for _, m in ipairs(redis.call('ZRANGE', xk, 0, -1)) do
  if string.sub(m, 1, 1) == 't' then keys[#keys + 1] = tokenKey(m) end
end
keys[#keys + 1] = uk
keys[#keys + 1] = xk
delChunked(keys)
return 1
`,

  // KEYS: user. ARGV: base, userHash, now, off, clientField, clientId.
  removeClient: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
if redis.call('HEXISTS', uk, ARGV[5]) == 0 then return 0 end
local all = redis.call('HGETALL', uk)
local set = {}
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 1) == 'g' and clientOf(all[i + 1]) == ARGV[6] then set[string.sub(all[i], 2)] = true end
end
removeGrants(uk, xk, set)
redis.call('HDEL', uk, ARGV[5])
settle(uk, xk, ARGV[3], tonumber(ARGV[4]))
return 1
`,

  // KEYS: user. ARGV: base, userHash, now, off, grantHash, clientId, grantId.
  removeGrant: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local gv = redis.call('HGET', uk, 'g' .. ARGV[5])
if not gv or not isGrant(gv, ARGV[6], ARGV[7]) then return 0 end
removeGrants(uk, xk, {[ARGV[5]] = true})
settle(uk, xk, ARGV[3], tonumber(ARGV[4]))
return 1
`,

  // KEYS: user. ARGV: base. -> {user, clientField...} | nil
  getUser: `
local u = redis.call('HGET', KEYS[1], 'u')
if not u then return false end
local out = {u}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 1) == 'c' then out[#out + 1] = f end
end
return out
`,

  // KEYS: user. ARGV: base, clientField, clientId. -> {user, client, grant header...} | nil
  getClient: `
local r = redis.call('HMGET', KEYS[1], 'u', ARGV[2])
if not r[1] or not r[2] then return false end
local out = {r[1], r[2]}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 1) == 'g' and clientOf(all[i + 1]) == ARGV[3] then out[#out + 1] = firstLine(all[i + 1]) end
end
return out
`,

  // KEYS: user. ARGV: base, clientId ('' for all). -> the user HASH, only the client's grants when given
  listGrants: `
local all = redis.call('HGETALL', KEYS[1])
if ARGV[2] == '' then return all end
local out = {}
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 1) ~= 'g' or clientOf(all[i + 1]) == ARGV[2] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`,

  // KEYS: user. ARGV: base, userHash, grantHash, clientId, grantId. -> {grant, hash, token, ...} | nil
  listTokens: `
local gv = redis.call('HGET', KEYS[1], 'g' .. ARGV[3])
if not gv or not isGrant(gv, ARGV[4], ARGV[5]) then return false end
local out = {gv}
for _, t in ipairs(grantTokens(B .. 'x:' .. ARGV[2], ARGV[3])) do
  out[#out + 1] = string.sub(t.key, #B + 3)
  out[#out + 1] = t.v
end
return out
`,

  // KEYS: user. ARGV: base, userHash. -> {the user HASH, {hash, token or marker, ...}}
  dumpUser: `
local all = redis.call('HGETALL', KEYS[1])
local toks = {}
for _, m in ipairs(redis.call('ZRANGE', B .. 'x:' .. ARGV[2], 0, -1)) do
  if string.sub(m, 1, 1) == 't' then
    local v = redis.call('GET', tokenKey(m))
    if v then
      toks[#toks + 1] = string.sub(m, GL + 2)
      toks[#toks + 1] = v
    end
  end
end
return {all, toks}
`,

  // KEYS: user. ARGV: base, userHash, now, off, budget. -> records removed
  purgeUser: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local now, budget = ARGV[3], tonumber(ARGV[5])
local removed = prune(uk, xk, now, budget)
if removed < budget then
  local all = redis.call('HGETALL', uk)
  local u
  local withGrants, clients = {}, {}
  for i = 1, #all, 2 do
    local c = string.sub(all[i], 1, 1)
    if c == 'u' then u = all[i + 1]
    elseif c == 'g' then withGrants[clientOf(all[i + 1])] = true
    elseif c == 'c' then clients[#clients + 1] = all[i] end
  end
  local left = 0
  for _, f in ipairs(clients) do
    if not withGrants[string.sub(f, 2)] and removed < budget then
      redis.call('HDEL', uk, f)
      removed = removed + 1
    else left = left + 1 end
  end
  local live = 0
  if u then
    local lines = split(u, '\\n')
    local out = {lines[1]}
    for i = 2, #lines do
      if tonumber(split(lines[i], '\\t')[3]) > tonumber(now) then out[#out + 1] = lines[i] end
    end
    live = #out - 1
    if #out ~= #lines then setUser(uk, xk, table.concat(out, '\\n')) end
  end
  if left == 0 and live == 0 and removed < budget and redis.call('ZCARD', xk) == 0 then
    redis.call('DEL', uk, xk)
    return removed + 1
  end
end
settle(uk, xk, now, tonumber(ARGV[4]), 0)
return removed
`,

  // KEYS: user. ARGV: base, userHash, now, off, user ('' to keep), userId, then counted lists:
  //   clients (field, value), grants (field, header, body, expiresAt, clientField, clientId, grantId),
  //   tokens (grantField, then writeTokens' six), markers (grantField, hash, value, pxat, expiresAt).
  load: `
local uk, xk = KEYS[1], B .. 'x:' .. ARGV[2]
local u = redis.call('HGET', uk, 'u')
if u and userIdOf(u) ~= ARGV[6] then return 'collision' end
if ARGV[5] ~= '' then
  setUser(uk, xk, ARGV[5])
  u = ARGV[5]
end
if not u then return 'nouser' end
local a = 7
local n = tonumber(ARGV[a])
for i = 0, n - 1 do
  redis.call('HSET', uk, ARGV[a + 1 + i * 2], ARGV[a + 2 + i * 2])
end
a = a + 1 + n * 2
n = tonumber(ARGV[a])
for i = 0, n - 1 do
  local p = a + 1 + i * 7
  local g = redis.call('HGET', uk, ARGV[p])
  if redis.call('HEXISTS', uk, ARGV[p + 4]) == 1 and (not g or isGrant(g, ARGV[p + 5], ARGV[p + 6])) then
    redis.call('HSET', uk, ARGV[p], ARGV[p + 1] .. '\\t' .. redis.call('HINCRBY', uk, 'n', 1) .. ARGV[p + 2])
    redis.call('ZADD', xk, ARGV[p + 3], ARGV[p])
  end
end
a = a + 1 + n * 7
n = tonumber(ARGV[a])
for i = 0, n - 1 do
  local p = a + 1 + i * 7
  local gv = redis.call('HGET', uk, 'g' .. ARGV[p])
  if gv then
    local scope = ARGV[p + 3]
    if scope == scopeOf(gv) then scope = ' ' end
    redis.call('SET', B .. 't:' .. ARGV[p + 1], ARGV[p + 2] .. scope .. ARGV[p + 4], 'PXAT', ARGV[p + 5])
    redis.call('ZADD', xk, ARGV[p + 6], 't' .. ARGV[p] .. ARGV[p + 1])
  end
end
a = a + 1 + n * 7
n = tonumber(ARGV[a])
for i = 0, n - 1 do
  local p = a + 1 + i * 5
  if redis.call('HEXISTS', uk, 'g' .. ARGV[p]) == 1 then
    redis.call('SET', B .. 't:' .. ARGV[p + 1], ARGV[p + 2], 'PXAT', ARGV[p + 3])
    redis.call('ZADD', xk, ARGV[p + 4], 't' .. ARGV[p] .. ARGV[p + 1])
  end
end
settle(uk, xk, ARGV[3], tonumber(ARGV[4]))
return 'ok'
`,
} as const;

/**
 * The helpers of {@link HELPERS_SOURCE} one by one (each with the comment above it), in
 * definition order: a helper only calls helpers defined above it.
 */
const HELPERS: readonly { readonly name: string; readonly source: string }[] = HELPERS_SOURCE.trim()
  .split(/\n\n(?=(?:--[^\n]*\n)*local function )/)
  .map((source) => ({ name: /local function (\w+)/.exec(source)![1]!, source }));

/**
 * The helpers `body` uses, directly or through other helpers. A script defines its helpers
 * anew on every call (closures, then garbage), so leaving out the unused ones is CPU saved in
 * Redis on every call.
 */
function preludeFor(body: string): string {
  const used = new Set<string>();
  let text = body;
  for (let grew = true; grew; ) {
    grew = false;
    for (const h of HELPERS) {
      if (!used.has(h.name) && new RegExp(`\\b${h.name}\\b`).test(text)) {
        used.add(h.name);
        text += h.source;
        grew = true;
      }
    }
  }
  return HELPERS.filter((h) => used.has(h.name))
    .map((h) => h.source)
    .join('\n\n');
}

export type ScriptName = keyof typeof BODIES;

export interface Script {
  readonly name: ScriptName;
  readonly source: string;
  readonly sha: string;
}

export const SCRIPTS: Readonly<Record<ScriptName, Script>> = Object.freeze(
  Object.fromEntries(
    (Object.keys(BODIES) as ScriptName[]).map((name) => {
      const source = `-- oidc-sessions ${name}\n${HEADER}\n${preludeFor(BODIES[name])}\n${BODIES[name]}`;
      return [name, Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') })];
    }),
  ) as Record<ScriptName, Script>,
);
