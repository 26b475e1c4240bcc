/**
 * How the Redis tier (store/redis-tier.ts) lays out its records in the Redis every node
 * shares. Under the configured key prefix P:
 *
 *   P r:<name>   a hash per stored key: h (the head as JSON, the storage key inside),
 *                b (the body), n (the body's length as written), e (deleteAt), x (which
 *                indexes list it). A Vary record has h, e and x only. HMGET h b n reads a response in one
 *                round trip; a new head (304 refresh, soft purge) rewrites h and x and
 *                never resends the body. Expires (PEXPIRE) with the entry's deleteAt.
 *   P u:<name>   set of record names whose response has this normalised URL
 *   P d:<name>   set of record names made from this URL (head.id.derivedFrom: variants)
 *   P t:<name>   set of record names carrying this purge tag
 *   P urls       sorted set, every score 0, of "<url>\n<u set>\n<d set>" for each URL
 *                with a u or d set: ZRANGEBYLEX finds the URLs under a prefix, and the
 *                set names in the member let a script prune it without hashing anything.
 *
 * A <name> is "=" and the text itself when short (readable in redis-cli), or "#" and
 * storageName (128 bits of SHA-256) when long or holding a line break; the two forms
 * never meet. The index sets
 * expire no sooner than the last record added to them; members of records that expired
 * meanwhile are removed by the purges that find them, and `urls` is pruned by every write
 * (two random members checked) and by every prefix purge.
 *
 * Every change is one Lua script, so a record and its indexes never disagree, and a
 * script that replaces or deletes can insist on the head it expects (compare and set).
 */
import { storageName } from "../../core/key/index.ts";
import { luaScript } from "../cluster/redis-link.ts";
import type { RecordHead } from "./lower-tier.ts";

/** Longest text used as its own name; longer ones are hashed. */
const RAW_NAME_MAX = 100;

export interface RedisNames {
  readonly urls: string;
  record(key: string): string;
  url(url: string): string;
  derived(url: string): string;
  tag(tag: string): string;
  /** The `urls` member for a URL: it carries the names of that URL's u and d sets. */
  urlMember(url: string): string;
  /** The glob that matches every record name (for clear). */
  readonly recordPattern: string;
  /** The glob that matches every index set name (for clear). */
  readonly indexPattern: string;
}

export function redisNames(prefix: string): RedisNames {
  // A text with a line break is hashed too: `urls` members are split at line breaks.
  const raw = (text: string) => text.length <= RAW_NAME_MAX && !text.includes("\n");
  const name = (kind: string, text: string) =>
    `${prefix}${kind}:${raw(text) ? `=${text}` : `#${storageName(text)}`}`;
  const glob = prefix.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);
  const url = (text: string) => name("u", text);
  const derived = (text: string) => name("d", text);
  return {
    urls: `${prefix}urls`,
    record: (key) => name("r", key),
    url,
    derived,
    tag: (text) => name("t", text),
    urlMember: (text) => `${text}\n${url(text)}\n${derived(text)}`,
    recordPattern: `${glob}r:*`,
    indexPattern: `${glob}[udt]:*`,
  };
}

/** The URL a `urls` member stands for: all but its last two lines (the set names). */
export function memberUrl(member: string): string {
  const last = member.lastIndexOf("\n");
  const end = last <= 0 ? -1 : member.lastIndexOf("\n", last - 1);
  return end < 0 ? member : member.slice(0, end);
}

/** What a record's h field holds. */
export type StoredHeadJson =
  | { readonly key: string; readonly meta: RecordHead["meta"]; readonly id: RecordHead["id"] }
  | { readonly key: string; readonly vary: readonly string[]; readonly deleteAt: number };

export function encodeHead(key: string, head: RecordHead): string {
  return JSON.stringify({ key, meta: head.meta, id: head.id });
}

export function encodeVary(key: string, fields: readonly string[], deleteAt: number): string {
  return JSON.stringify({ key, vary: fields, deleteAt });
}

/** The x field: the sets a record is a member of, and its members of `urls`. */
export function encodeIndexes(names: RedisNames, head: RecordHead): string {
  const sets = new Set([names.url(head.id.url)]);
  for (const tag of head.meta.tags) sets.add(names.tag(tag));
  const members = [names.urlMember(head.id.url)];
  const from = head.id.derivedFrom;
  if (from !== undefined) {
    sets.add(names.derived(from));
    members.push(names.urlMember(from));
  }
  return JSON.stringify({ s: [...sets], z: members });
}

export const NO_INDEXES = JSON.stringify({ s: [], z: [] });

export type DecodedRecord =
  | { readonly kind: "object"; readonly key: string; readonly head: RecordHead }
  | {
      readonly kind: "vary";
      readonly key: string;
      readonly fields: readonly string[];
      readonly deleteAt: number;
    };

/**
 * A record's h field, checked enough that nothing downstream trips over it: a head
 * another version wrote, or bytes damaged, decode to null and the record is a miss.
 */
export function decodeHead(text: string): DecodedRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value.key !== "string") return null;
  if (Array.isArray(value.vary)) {
    if (!value.vary.every((field) => typeof field === "string")) return null;
    if (typeof value.deleteAt !== "number") return null;
    return { kind: "vary", key: value.key, fields: value.vary, deleteAt: value.deleteAt };
  }
  const meta = value.meta;
  const id = value.id;
  if (!isObject(meta) || !isObject(id)) return null;
  const times = ["freshUntil", "staleWhileRevalidateUntil", "staleIfErrorUntil", "deleteAt"];
  if (typeof meta.status !== "number" || !times.every((t) => typeof meta[t] === "number")) {
    return null;
  }
  if (!Array.isArray(meta.headers) || !Array.isArray(meta.tags)) return null;
  if (typeof id.url !== "string" || typeof id.primary !== "string") return null;
  if (id.derivedFrom !== undefined && typeof id.derivedFrom !== "string") return null;
  const head = { meta, id } as unknown as RecordHead;
  return { kind: "object", key: value.key, head };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Helpers every script shares: take a record out of its indexes, and put it in. */
const INDEXING = `
local function unindex(rec, xjson, urls)
  if not xjson then return end
  local ok, x = pcall(cjson.decode, xjson)
  if not ok then return end
  for _, set in ipairs(x.s) do redis.call('SREM', set, rec) end
  for _, member in ipairs(x.z) do
    local u, d = string.match(member, '\\n([^\\n]*)\\n([^\\n]*)$')
    if u and redis.call('EXISTS', u, d) == 0 then redis.call('ZREM', urls, member) end
  end
end
local function index(rec, xjson, urls, px)
  local x = cjson.decode(xjson)
  for _, set in ipairs(x.s) do
    redis.call('SADD', set, rec)
    if redis.call('PTTL', set) < px then redis.call('PEXPIRE', set, px) end
  end
  for _, member in ipairs(x.z) do redis.call('ZADD', urls, 0, member) end
end
`;

/**
 * Store a record. KEYS: record, urls. ARGV: h, x, px, e (deleteAt), then for a response
 * n and b. Two random members of `urls` are checked on the way, so URLs whose records
 * all expired leave it at about the rate new ones arrive. Returns the h it replaced.
 */
export const WRITE = luaScript(`${INDEXING}
local old = redis.call('HMGET', KEYS[1], 'h', 'x')
unindex(KEYS[1], old[2], KEYS[2])
redis.call('DEL', KEYS[1])
if ARGV[6] then
  redis.call('HSET', KEYS[1], 'h', ARGV[1], 'x', ARGV[2], 'e', ARGV[4], 'n', ARGV[5], 'b', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'h', ARGV[1], 'x', ARGV[2], 'e', ARGV[4])
end
local px = tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], px)
index(KEYS[1], ARGV[2], KEYS[2], px)
for _, member in ipairs(redis.call('ZRANDMEMBER', KEYS[2], 2)) do
  local u, d = string.match(member, '\\n([^\\n]*)\\n([^\\n]*)$')
  if u and redis.call('EXISTS', u, d) == 0 then redis.call('ZREM', KEYS[2], member) end
end
return old[1]
`);

/**
 * A new head for a stored response, body untouched. KEYS: record, urls. ARGV: h, x, px,
 * e (the new deleteAt), now (the caller's clock), the h expected ("" for any). Returns
 * the h it replaced; nil when no response is there (nothing, a Vary record, or one past
 * its deleteAt by the caller's clock) or its head is not the one expected.
 */
export const REPLACE_HEAD = luaScript(`${INDEXING}
local old = redis.call('HMGET', KEYS[1], 'h', 'x', 'n', 'e')
if not old[1] or not old[3] then return nil end
if old[4] and (tonumber(old[4]) or 0) <= (tonumber(ARGV[5]) or 0) then return nil end
if ARGV[6] ~= '' and old[1] ~= ARGV[6] then return nil end
unindex(KEYS[1], old[2], KEYS[2])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'x', ARGV[2], 'e', ARGV[4])
local px = tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], px)
index(KEYS[1], ARGV[2], KEYS[2], px)
return old[1]
`);

/**
 * Delete a record and its index entries. KEYS: record, urls. ARGV: the h expected (""
 * for any). Returns the h it deleted, or nil.
 */
export const DELETE = luaScript(`${INDEXING}
local old = redis.call('HMGET', KEYS[1], 'h', 'x')
if not old[1] then return nil end
if ARGV[1] ~= '' and old[1] ~= ARGV[1] then return nil end
unindex(KEYS[1], old[2], KEYS[2])
redis.call('DEL', KEYS[1])
return old[1]
`);

/**
 * Remove from a set the record names whose records are gone (expired by Redis since they
 * were indexed). KEYS: the set. ARGV: record names. Checked here rather than by the
 * caller, so a record written again meanwhile keeps its index entry.
 */
export const PRUNE_SET = luaScript(`
for _, rec in ipairs(ARGV) do
  if redis.call('EXISTS', rec) == 0 then redis.call('SREM', KEYS[1], rec) end
end
return 0
`);

/** Remove `urls` members whose u and d sets are both gone. KEYS: urls. ARGV: members. */
export const PRUNE_URLS = luaScript(`
for _, member in ipairs(ARGV) do
  local u, d = string.match(member, '\\n([^\\n]*)\\n([^\\n]*)$')
  if u and redis.call('EXISTS', u, d) == 0 then redis.call('ZREM', KEYS[1], member) end
end
return 0
`);
