#!lua flags=allow-cross-slot-keys
-- bulkscan Redis sweep: one call applies one page of keys on one node, exactly once per run.
--
-- ARGV[1] source field, ARGV[2] target field, ARGV[3] marker field, ARGV[4] run token (no '|'),
-- ARGV[5] mode:
--   'scan'  ARGV[6] cursor, ARGV[7] MATCH pattern, ARGV[8] COUNT, ARGV[9] TYPE ('' = any): the call runs
--           one SCAN step on this node itself and applies the page it returns (one round trip per page,
--           keys never travel to the client and back). Returns {next cursor, status lines, key1, key2, ...}.
--   'keys'  the keys are KEYS when declared (single-key calls routed by the cluster client, MOVED/ASK
--           safe), else ARGV[6..] (a page listed by the client, e.g. CLUSTER GETKEYSINSLOT). Returns the
--           status lines.
-- The keys of a page span many slots: Redis 7 allows that for undeclared keys with the
-- allow-cross-slot-keys flag, as long as every slot is served by this node.
--
-- Per key, in one atomic step: read source, marker and target; if the marker already holds this run,
-- report the increment and value stored with it (D); else apply the rule (only a canonical positive
-- int64 is added), add it to the target and write the marker "<run>|<increment>|<new value>" in the same
-- HSET (A). Errors of one key (slot not served here any more, wrong type, target not an integer,
-- overflow) are caught with pcall before anything of that key is written, so a page never aborts half
-- applied. Status lines, one per key in order: "A|<incr>|<new>", "D|<incr>|<new>", or one letter.
local src, tgt, marker = ARGV[1], ARGV[2], ARGV[3]
local prefix = ARGV[4] .. '|'
local plen = #prefix

local INT64_MAX = '9223372036854775807'
local INT64_MIN_ABS = '9223372036854775808'

local function within(digits, limit)
  return #digits < 19 or (#digits == 19 and digits <= limit)
end

local function classify(v)
  if not v then return 'M' end
  if v == '0' then return 'Z' end
  if string.find(v, '^[1-9]%d*$') then
    if within(v, INT64_MAX) then return nil end
    return 'I'
  end
  if string.find(v, '^%-[1-9]%d*$') and within(string.sub(v, 2), INT64_MIN_ABS) then return 'N' end
  return 'I'
end

-- Integer strings whose sum Lua's doubles hold exactly (|x| < 1e15): added here, one HSET writes both
-- fields. Anything else (bigger numbers, non-canonical text) goes through HINCRBY, which decides.
local function small(t)
  return t == '0' or (#t <= 16 and string.find(t, '^%-?[1-9]%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?$'))
end

local function apply(key)
  local r = redis.pcall('HMGET', key, src, marker, tgt)
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'WRONGTYPE', 1, true) then return 'W' end
    return 'R'
  end
  local v, m, t = r[1], r[2], r[3]
  if m and string.sub(m, 1, plen) == prefix then
    return 'D|' .. string.sub(m, plen + 1)
  end
  local status = classify(v)
  if status then return status end
  local nv
  if (not t or small(t)) and #v <= 15 then
    nv = string.format('%.0f', (tonumber(t) or 0) + tonumber(v))
    redis.call('HSET', key, tgt, nv, marker, prefix .. v .. '|' .. nv)
    return 'A|' .. v .. '|' .. nv
  end
  nv = redis.pcall('HINCRBY', key, tgt, v)
  if type(nv) == 'table' and nv.err then
    if string.find(nv.err, 'overflow', 1, true) then return 'O' end
    return 'T'
  end
  -- Integer replies reach Lua as doubles: beyond 1e14 they would print inexactly, so read it back.
  if nv >= 1e14 or nv <= -1e14 then nv = redis.call('HGET', key, tgt) end
  redis.call('HSET', key, marker, prefix .. v .. '|' .. nv)
  return 'A|' .. v .. '|' .. nv
end

local out = {}
if ARGV[5] == 'scan' then
  local scan
  if ARGV[9] ~= '' then
    scan = redis.call('SCAN', ARGV[6], 'MATCH', ARGV[7], 'COUNT', ARGV[8], 'TYPE', ARGV[9])
  else
    scan = redis.call('SCAN', ARGV[6], 'MATCH', ARGV[7], 'COUNT', ARGV[8])
  end
  local keys = scan[2]
  for i = 1, #keys do out[i] = apply(keys[i]) end
  local reply = {scan[1], table.concat(out, '\n')}
  for i = 1, #keys do reply[i + 2] = keys[i] end
  return reply
end

local keys, first = KEYS, 1
if #KEYS == 0 then keys, first = ARGV, 6 end
for i = first, #keys do out[#out + 1] = apply(keys[i]) end
return table.concat(out, '\n')
