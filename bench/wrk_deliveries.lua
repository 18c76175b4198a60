-- wrk script for bench/loopback.py: send every pre-built request of a file exactly once, then stop.
--
-- Usage: wrk -t T -c C -d CAP -s wrk_deliveries.lua URL -- FILE T
-- FILE holds raw HTTP requests, each preceded by a line with its length in bytes. Thread k of T sends the requests
-- whose index is k modulo T. A connection whose thread has nothing left to send idles (delay) until the thread's
-- last answer arrives; the thread then prints "linqbot-bench thread-done" so the caller can stop wrk at once
-- (wrk itself would sleep for the whole -d cap). done() prints one JSON line starting with "linqbot-bench result".

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } linqbot_timespec;
int clock_gettime(int clock_id, linqbot_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("linqbot_timespec")

local function now_ns()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1e9 + tonumber(timespec.tv_nsec)
end

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local thread_count = tonumber(args[2])
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  pending = {}
  local position, index = 1, 0
  while position <= #data do
    local newline = data:find("\n", position, true)
    local length = tonumber(data:sub(position, newline - 1))
    if index % thread_count == thread_index then
      table.insert(pending, data:sub(newline + 1, newline + length))
    end
    index = index + 1
    position = newline + 1 + length
  end
  granted, sent, answered, statuses, first_ns, last_ns = 0, 0, 0, {}, 0, 0
end

-- wrk calls delay() before each request a connection sends, and request() once more on its own at start (a probe
-- whose result is never sent): only a request() that a delay() granted takes the next delivery.
function delay()
  if granted >= #pending then
    return 3600000 -- everything is sent: idle until the thread stops
  end
  granted = granted + 1
  return 0
end

function request()
  if sent == granted then
    return pending[1]
  end
  sent = sent + 1
  if sent == 1 then
    first_ns = now_ns()
  end
  return pending[sent]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  if answered == #pending then
    last_ns = now_ns()
    io.write("linqbot-bench thread-done\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local first, last, counts = nil, 0, {}
  for _, thread in ipairs(threads) do
    local began, ended = thread:get("first_ns"), thread:get("last_ns")
    if began > 0 and (first == nil or began < first) then
      first = began
    end
    if ended > last then
      last = ended
    end
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'linqbot-bench result {"answered": %d, "wall_ns": %.0f, "p50_us": %d, "p99_us": %d, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, (first and last > first) and (last - first) or 0, latency:percentile(50.0),
    latency:percentile(99.0), table.concat(parts, ", "), errors.connect, errors.read, errors.write, errors.timeout
  ))
end
