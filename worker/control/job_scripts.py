"""The Lua scripts of `JobStore`: each read-modify-write of a job record runs atomically in Redis.

Values in a job hash are JSON text (a status reads '"queued"', a missing time 'null').
"""

import json

from .job_record import TERMINAL

_TERMINAL_JSON = "{" + ", ".join(f"['{json.dumps(s.value)}'] = true" for s in TERMINAL) + "}"

# KEYS: job, tenant jobs, tenant active, and the output's reservation to take (optional). ARGV: id,
# score, limit (0: none), active (1/0), fields... Returns 1 stored, 0 at the tenant's limit, -1 id
# taken, -2 output reserved by another job.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local limit = tonumber(ARGV[3])
if limit > 0 and redis.call('SCARD', KEYS[3]) >= limit then return 0 end
if KEYS[4] then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= ARGV[1] then return -2 end
  redis.call('SET', KEYS[4], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end
return 1
"""

# KEYS: job, tenant active, output reservation. ARGV: id, status, now, terminal (1/0), fields...
SET_STATUS = f"""
local current = redis.call('HGET', KEYS[1], 'status')
if not current or ({_TERMINAL_JSON})[current] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[3])
if #ARGV >= 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
local started = redis.call('HGET', KEYS[1], 'started_at')
if ARGV[2] == '"running"' and (not started or started == 'null') then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[3])
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[3])
  redis.call('SREM', KEYS[2], ARGV[1])
  if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
else
  redis.call('SADD', KEYS[2], ARGV[1])
end
return 1
"""

# KEYS: job. ARGV: fields...
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS: job, chunks. ARGV: index, result, frames, now.
MARK_CHUNK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
  redis.call('HINCRBY', KEYS[1], 'frames_done', ARGV[3])
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
end
return redis.call('HLEN', KEYS[2])
"""

# KEYS: idempotency key. ARGV: value, ttl.
REMEMBER = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""
