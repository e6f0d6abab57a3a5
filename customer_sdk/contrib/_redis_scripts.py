"""The Lua scripts of :class:`~customer_sdk.contrib.redis.RedisLimiter`, run atomically by Redis.

GCRA (the generic cell rate algorithm) on Redis' own clock (``TIME``), so client clock skew
does not matter; the reasoning is in :mod:`customer_sdk.contrib.redis`'s docstring.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACQUIRE", "PAUSE"]

# KEYS[1] = the account's TAT (theoretical arrival time, µs on Redis' clock)
# KEYS[2] = the shared pause key (its PTTL is the pause left)
# ARGV[1] = emission interval in µs (1e6 / rate); ARGV[2] = tolerance in µs ((burst-1) * interval)
# ARGV[3] = the furthest ahead (µs) a slot may be booked
# Returns {1, w}: the next slot is booked for the caller, w µs from now (0 = at once);
#         {0, w}: nothing booked (a pause, or the slot is too far ahead): ask again in w µs.
ACQUIRE: Final = """
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, pause * 1000} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local ahead = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > ahead then return {0, math.ceil(wait - ahead)} end
if wait < 0 then wait = 0 end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {1, math.ceil(wait)}
"""

# KEYS = as above; ARGV[1] = pause in ms; ARGV[2] = tolerance in µs. Only ever extends a pause,
# never shortens it. The 429 says the server's budget is spent, so the TAT moves to the pause's
# end plus the tolerance: the first slot after the pause is at its end, the next ones at the rate.
PAUSE: Final = """
local left = redis.call('PTTL', KEYS[2])
local want = tonumber(ARGV[1])
if left < want then
  redis.call('SET', KEYS[2], '1', 'PX', want)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = now + want * 1000 + tonumber(ARGV[2])
  if tonumber(redis.call('GET', KEYS[1]) or 0) < tat then
    local ttl_ms = math.ceil((tat - now) / 1000) + 1000
    redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', ttl_ms)
  end
end
return left
"""
