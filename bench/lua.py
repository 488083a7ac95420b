"""wrk Lua scripts, generated per operation with the token and project ids baked in.

Every script counts response statuses per thread (`response`) and prints one JSON line from `done`
(prefixed BENCH_JSON) with the request count, duration, latency percentiles, socket errors and the
status histogram, which bench.run parses. wrk runs with one thread (-t1): the transition script's
request counter must be global to the connection pool, see TRANSITION.
"""

import json

COMMON = r"""
statuses = {}
local threads = {}
local counter = 0
local token = %(token)s
local ids = %(ids)s
local tag = %(tag)s
local headers = {["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json",
                 ["Content-Type"] = "application/json"}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      merged[tostring(code)] = (merged[tostring(code)] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(merged) do table.insert(parts, string.format('"%%s":%%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"mean_us":%%.1f,"socket_errors":%%d,"timeouts":%%d,"statuses":{%%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean,
    e.connect + e.read + e.write, e.timeout, table.concat(parts, ",")))
end
"""

# The path (with query) is fixed: GET it again and again.
FIXED_GET = r"""
function request()
  return wrk.format("GET", %(path)s, headers)
end
"""

# GET /api/v1/projects/<id>/ over a pool of ids, round robin.
GET_BY_ID = r"""
function request()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/projects/" .. ids[(counter - 1) %% #ids + 1] .. "/", headers)
end
"""

# POST a project with a name no other request of this run uses (no slug collisions to resolve).
CREATE = r"""
function request()
  counter = counter + 1
  local body = string.format('{"name":"Load %%s %%d","description":"created by bench.run"}', tag, counter)
  return wrk.format("POST", "/api/v1/projects/", headers, body)
end
"""

# Request n goes to project n mod P; it pauses on even rounds and resumes on odd ones. With one wrk
# thread at most `connections` requests are in flight and P >> connections, so the previous request
# for a project has been answered before the next one is sent: every request is a valid transition.
# A 409 therefore means a lost or failed earlier request; it is reported apart from errors.
TRANSITION = r"""
function request()
  counter = counter + 1
  local n = #ids
  local name = (math.floor((counter - 1) / n) %% 2 == 0) and "pause" or "resume"
  return wrk.format("POST", "/api/v1/projects/" .. ids[(counter - 1) %% n + 1] .. "/" .. name .. "/", headers,
                    '{"rationale":"bench"}')
end
"""


def lua_string(value: str) -> str:
    # JSON string syntax is valid Lua for the ASCII we put in (ids, tokens, paths).
    return json.dumps(value)


def lua_list(values) -> str:
    return "{" + ",".join(lua_string(v) for v in values) + "}"


def script(kind: str, *, token: str, ids=(), path: str = "", tag: str = "") -> str:
    body = {"get": FIXED_GET, "get_by_id": GET_BY_ID, "create": CREATE, "transition": TRANSITION}[kind]
    values = {"token": lua_string(token), "ids": lua_list(ids), "tag": lua_string(tag), "path": lua_string(path)}
    return COMMON % values + body % values
