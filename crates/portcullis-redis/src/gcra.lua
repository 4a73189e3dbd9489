-- One rate-limit key on the shared store, in one atomic step (see lib.rs for the contract).
--
-- KEYS[1]  the key's state: a hash of tat (GCRA theoretical arrival time), fails (failed
--          attempts in a row) and last (when the last one failed)
-- KEYS[2]  its attempts in progress: a sorted set of attempt ids scored by when their lease ends
-- ARGV     op, now, period, count, after, first, longest, lease, attempt id
--          (every time in microseconds on the caller's clock)
--
-- Answers {a, b}:
--   hit    {1, remaining} when counted, {0, wait} when refused (and not counted)
--   held   {wait, 0}, wait 0 when not held back
--   begin  {0, 0} with the attempt leased, {1, wait} when held back, {2, 0} when every place
--          for attempts in progress on the key is taken
--   ok     {0, 0}: the attempt ends and the streak of failures with it
--   fail   {0, 0}: the attempt ends, counted as a failure (and as an event of the quota)
local op = ARGV[1]
local now = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local count = tonumber(ARGV[4])
local after = tonumber(ARGV[5])
local first = tonumber(ARGV[6])
local longest = tonumber(ARGV[7])
local lease = tonumber(ARGV[8])
local id = ARGV[9]

local interval = 0
if count > 0 and period > 0 then interval = period / count end
local forget = longest * 2

local saved = redis.call('HMGET', KEYS[1], 'tat', 'fails', 'last')
local tat = tonumber(saved[1]) or 0
local fails = tonumber(saved[2]) or 0
local last = tonumber(saved[3]) or 0
if fails > 0 and last + forget <= now then fails = 0 end
if tat < now then tat = now end

-- How long until the next event fits the quota; 0 when it fits now.
local function quota_wait()
  if interval == 0 then return 0 end
  local at = tat + interval - interval * count
  if at > now then return at - now end
  return 0
end

-- How long the back-off still holds the key; 0 when it does not.
local function backoff_wait()
  if longest == 0 or fails <= after then return 0 end
  local wait = math.min(first * 2 ^ math.min(fails - after - 1, 30), longest)
  if last + wait > now then return last + wait - now end
  return 0
end

-- Events the quota lets through right now.
local function quota_left()
  return math.floor((now - (tat - interval * count)) / interval + 0.001)
end

local function hit()
  local wait = quota_wait()
  if wait > 0 then return {0, wait} end
  tat = tat + interval
  return {1, quota_left()}
end

-- Writes the state back with a lifetime that ends when it is fresh again, or deletes it.
local function save()
  local ttl = tat - now
  if fails > 0 and last + forget - now > ttl then ttl = last + forget - now end
  if ttl > 0 then
    redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'fails', fails,
      'last', string.format('%.0f', last))
    redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) + 1000)
  else
    redis.call('DEL', KEYS[1])
  end
end

if op == 'hit' then
  if interval == 0 then return {1, 0} end
  local answer = hit()
  if answer[1] == 1 then save() end
  return answer
elseif op == 'held' then
  return {math.max(quota_wait(), backoff_wait()), 0}
elseif op == 'begin' then
  local wait = math.max(quota_wait(), backoff_wait())
  if wait > 0 then return {1, wait} end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))
  -- As many at once as the key has free failures left, never more than the quota has left,
  -- at least one; one at a time when the limit has no back-off.
  local places = 1
  if longest > 0 then
    places = after - fails
    if interval > 0 then places = math.min(places, quota_left()) end
    if places < 1 then places = 1 end
  end
  if redis.call('ZCARD', KEYS[2]) >= places then return {2, 0} end
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + lease), id)
  redis.call('PEXPIRE', KEYS[2], math.ceil(lease / 1000) + 1000)
  return {0, 0}
elseif op == 'ok' or op == 'fail' then
  redis.call('ZREM', KEYS[2], id)
  if op == 'ok' then
    fails = 0
  else
    fails = fails + 1
    last = now
    if interval > 0 then hit() end
  end
  save()
  return {0, 0}
end
return redis.error_reply('unknown operation ' .. tostring(op))
