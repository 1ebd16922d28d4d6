#!lua flags=allow-cross-slot-keys
-- bulkscan Redis sweep: one call applies one page of keys on one node, exactly once per run.
--
-- ARGV[1] source field, ARGV[2] target field, ARGV[3] marker field, ARGV[4] run token (no '|'),
-- ARGV[5] pass id (one per attempt of a node pass, no '|'), ARGV[6] mode, optionally suffixed with a fold:
--   ':move'   the source is also reset to "0" in the same HSET that applies it (real-time counters folded
--             once: member scoring's `pending` points), so the next run only sees what arrived since;
--   ':replay' nothing is applied: keys this run already marked report their stored values (D), every
--             other key is skipped as M (a re-run of a day re-reads exactly the points it folded).
--   'scan'  ARGV[7] cursor, ARGV[8] MATCH pattern, ARGV[9] COUNT, ARGV[10] TYPE ('' = any): the call runs
--           one SCAN step on this node itself and applies the page it returns (one round trip per page,
--           keys never travel to the client and back). Returns {next cursor, counts, audit CSV rows,
--           key, status line, key, status line, ...}: the audit rows of keys that need no CSV quoting are
--           rendered here (the client turns bytes that are not UTF-8 into escapes, as for every row); keys
--           with a quote, comma or line break, and keys to redirect, come back with their line.
--           counts = "A D M Z N I T O W S" (S: a key this very pass already applied, a SCAN duplicate).
--   'keys'  the keys are KEYS when declared (single-key calls routed by the cluster client, MOVED/ASK
--           safe), else ARGV[7..] (a page listed by the client, e.g. CLUSTER GETKEYSINSLOT). Returns the
--           status lines.
-- The keys of a page span many slots: Redis 7 allows that for undeclared keys with the
-- allow-cross-slot-keys flag, as long as every slot is served by this node.
--
-- Per key, in one atomic step: read source, marker and target; if the marker already holds this run,
-- report the increment and value stored with it (D); else apply the rule (only a canonical positive
-- int64 is added), add it to the target and write the marker "<run>|<incr>|<new value>|<pass>" in the same
-- HSET (A). Errors of one key (slot not served here any more, wrong type, target not an integer,
-- overflow) are caught with pcall before anything of that key is written, so a page never aborts half
-- applied. Status lines, one per key in order: "A|<incr>|<new>", "D|<incr>|<new>", or one letter.
local src, tgt, marker = ARGV[1], ARGV[2], ARGV[3]
local prefix = ARGV[4] .. '|'
local plen = #prefix
local pass = ARGV[5]
local find, sub, match, format, concat = string.find, string.sub, string.match, string.format, table.concat
local call, pcall, tonumber = redis.call, redis.pcall, tonumber
local mode, fold = match(ARGV[6], '^(%a+):?(%a*)$')
local move, replay = fold == 'move', fold == 'replay'

-- HSET of the applied key; with ':move' the source is reset in the same command.
local function hset(key, ...)
  if move then return call('HSET', key, src, '0', ...) end
  return call('HSET', key, ...)
end

local INT64_MAX = '9223372036854775807'
local INT64_MIN_ABS = '9223372036854775808'

local function within(digits, limit)
  return #digits < 19 or (#digits == 19 and digits <= limit)
end

-- The increment rule: nil for a canonical positive int64, else the status letter of the skip.
local function classify(v)
  if not v then return 'M' end
  if v == '0' then return 'Z' end
  if find(v, '^[1-9]%d*$') then
    if within(v, INT64_MAX) then return nil end
    return 'I'
  end
  if find(v, '^%-[1-9]%d*$') and within(sub(v, 2), INT64_MIN_ABS) then return 'N' end
  return 'I'
end

-- The decision for one key, given its HMGET reply {source, marker, target}. Returns status, increment,
-- new value (the last two for A and D only). The scan loop below inlines the common case.
local function decide(key, r)
  if r.err then
    if find(r.err, 'WRONGTYPE', 1, true) then return 'W' end
    return 'R'
  end
  local v, m, t = r[1], r[2], r[3]
  if m and find(m, prefix, 1, true) == 1 then
    local incr, value, by = match(sub(m, plen + 1), '^([^|]*)|([^|]*)|?(.*)$')
    if by == pass then return 'S' end
    return 'D', incr, value
  end
  if replay then return 'M' end
  local status = classify(v)
  if status then return status end
  local nv
  -- Canonical integers below 1e15 on both sides: the sum is exact in Lua's doubles, and one HSET
  -- writes target and marker. Anything else goes through HINCRBY, which decides like Redis always does.
  if #v <= 15 and (not t or t == '0' or (#t <= 16 and find(t, '^%-?[1-9]%d*$') and #t - (sub(t, 1, 1) == '-' and 1 or 0) <= 15)) then
    nv = format('%.0f', (tonumber(t) or 0) + tonumber(v))
    hset(key, tgt, nv, marker, prefix .. v .. '|' .. nv .. '|' .. pass)
    return 'A', v, nv
  end
  nv = pcall('HINCRBY', key, tgt, v)
  if type(nv) == 'table' and nv.err then
    if find(nv.err, 'overflow', 1, true) then return 'O' end
    return 'T'
  end
  -- Integer replies reach Lua as doubles: beyond 1e14 they would print inexactly, so read it back.
  if nv >= 1e14 or nv <= -1e14 then nv = call('HGET', key, tgt) end
  hset(key, marker, prefix .. v .. '|' .. nv .. '|' .. pass)
  return 'A', v, nv
end

local function apply(key)
  return decide(key, pcall('HMGET', key, src, marker, tgt))
end

local function line(status, incr, value)
  if incr then return status .. '|' .. incr .. '|' .. value end
  return status
end

if mode == 'scan' then
  local scan
  if ARGV[10] ~= '' then
    scan = call('SCAN', ARGV[7], 'MATCH', ARGV[8], 'COUNT', ARGV[9], 'TYPE', ARGV[10])
  else
    scan = call('SCAN', ARGV[7], 'MATCH', ARGV[8], 'COUNT', ARGV[9])
  end
  local keys = scan[2]
  -- Keys that need CSV quoting go back to the client; checked once per page with plain (memchr) finds.
  local joined = concat(keys)
  local plain = not (find(joined, ',', 1, true) or find(joined, '"', 1, true) or find(joined, '\n', 1, true)
    or find(joined, '\r', 1, true))
  local n = {A = 0, D = 0, M = 0, Z = 0, N = 0, I = 0, T = 0, O = 0, W = 0, S = 0}
  local rows, nrows, applied, reply = {}, 0, 0, {scan[1], '', ''}
  for i = 1, #keys do
    local key = keys[i]
    local r = pcall('HMGET', key, src, marker, tgt)
    local v, m, t = r[1], r[2], r[3]
    local status, incr, value
    -- The common case, inlined (a call and its returns per key saved): no error (v is nil then), the marker
    -- not this run's, the source a canonical positive integer of at most 12 digits, the target absent,
    -- "0" or a canonical integer of at most 12 characters. The sum is then below 2e12, exact in Lua's
    -- doubles and printed exactly by '%d'; one HSET writes target and marker. `decide` would give the
    -- same answer by its longer road.
    if v and not replay and #v <= 12 and (not m or find(m, prefix, 1, true) ~= 1) and find(v, '^[1-9]%d*$')
        and (not t or t == '0' or (#t <= 12 and find(t, '^%-?[1-9]%d*$'))) then
      local nv = format('%d', (t and tonumber(t) or 0) + tonumber(v))
      if move then
        call('HSET', key, src, '0', tgt, nv, marker, prefix .. v .. '|' .. nv .. '|' .. pass)
      else
        call('HSET', key, tgt, nv, marker, prefix .. v .. '|' .. nv .. '|' .. pass)
      end
      status, incr, value = 'A', v, nv
    else
      status, incr, value = decide(key, r)
    end
    if incr and (plain or not find(key, '[",\r\n]')) then
      if status == 'A' then applied = applied + 1 else n[status] = n[status] + 1 end
      nrows = nrows + 1
      rows[nrows] = key .. ',' .. incr .. ',' .. value .. '\n'
    elseif n[status] and not incr then
      n[status] = n[status] + 1
    else
      reply[#reply + 1] = key
      reply[#reply + 1] = line(status, incr, value)
    end
  end
  reply[2] = concat({n.A + applied, n.D, n.M, n.Z, n.N, n.I, n.T, n.O, n.W, n.S}, ' ')
  reply[3] = concat(rows)
  return reply
end

local keys, first = KEYS, 1
if #KEYS == 0 then keys, first = ARGV, 7 end
local out = {}
for i = first, #keys do out[#out + 1] = line(apply(keys[i])) end
return concat(out, '\n')
