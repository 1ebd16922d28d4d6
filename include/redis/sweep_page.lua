#!lua flags=allow-cross-slot-keys
-- bulkscan Redis sweep: one call applies one SCAN page on one node, exactly once per run.
--
-- ARGV[1] source field, ARGV[2] target field, ARGV[3] marker field, ARGV[4] run token (no '|').
-- Keys: KEYS when declared (single-key calls routed by the cluster client, MOVED/ASK-safe), otherwise
-- ARGV[5..] (a whole SCAN page of this node; the keys span many slots, which Redis 7 allows for
-- undeclared keys with the allow-cross-slot-keys flag as long as every slot is served by this node).
--
-- Per key, in one atomic step: read source + marker; if the marker already holds this run, report the
-- increment and value stored with it (D); else apply the rule (only a canonical positive int64 is added),
-- HINCRBY the target and write the marker "<run>|<increment>|<new value>" (A). Errors of one key
-- (not served here any more, wrong type, target not an integer, overflow) are caught with pcall before
-- anything of that key is written, so they never abort the page half-applied.
-- Returns one line per key, in order: "A|<incr>|<new>", "D|<incr>|<new>", or one status letter.
local src, tgt, marker = ARGV[1], ARGV[2], ARGV[3]
local prefix = ARGV[4] .. '|'
local plen = #prefix
local keys, first = KEYS, 1
if #KEYS == 0 then
  keys, first = ARGV, 5
end

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

local out = {}
for i = first, #keys do
  local key = keys[i]
  local r = redis.pcall('HMGET', key, src, marker)
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'WRONGTYPE', 1, true) then
      out[#out + 1] = 'W'
    else
      out[#out + 1] = 'R'
    end
  else
    local v, m = r[1], r[2]
    if m and string.sub(m, 1, plen) == prefix then
      out[#out + 1] = 'D|' .. string.sub(m, plen + 1)
    else
      local status = classify(v)
      if status then
        out[#out + 1] = status
      else
        local nv = redis.pcall('HINCRBY', key, tgt, v)
        if type(nv) == 'table' and nv.err then
          if string.find(nv.err, 'overflow', 1, true) then
            out[#out + 1] = 'O'
          else
            out[#out + 1] = 'T'
          end
        else
          -- Integer replies reach Lua as doubles: beyond 1e14 they would print inexactly, so read the
          -- stored value back as a string there.
          if nv >= 1e14 or nv <= -1e14 then nv = redis.call('HGET', key, tgt) end
          redis.call('HSET', key, marker, prefix .. v .. '|' .. nv)
          out[#out + 1] = 'A|' .. v .. '|' .. nv
        end
      end
    end
  end
end
return table.concat(out, '\n')
