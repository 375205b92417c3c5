-- trace.lua - runs a samc model file against a recording stand-in of the
-- DSL and prints, as JSON, the list of tensor operations it performed and
-- the recipe table it returned. oracle.py replays that list in PyTorch, so
-- the PyTorch model is built from the very file samc compiles rather than
-- from a hand-kept copy.
--
--   lua5.4 trace.lua MODEL.lua [BATCH_SIZE_OVERRIDE]
--
-- Shapes are inferred here (the model may read x.shape); numbers written in
-- tensor expressions become "const" scalars; dims are normalised to 0-based
-- non-negative. Errors go to stderr with the model's file:line, exit 1.

local path, override = arg[1], tonumber(arg[2] or "")
if not path then
  io.stderr:write("usage: lua5.4 trace.lua MODEL.lua [BATCH_SIZE]\n")
  os.exit(2)
end

local tape = {}        -- ops in execution order
local params = {}      -- {name, shape, init} in declaration order
local inputs = {}      -- {name, shape, dtype, classes}
local states = {}      -- the layers' state: {name, shape, init}
local state = { batch = nil, nlinear = 0, nconv = 0, nbn = 0, nln = 0 }
local T = {}           -- tensor metatable

local function fail(msg) error(msg, 3) end

local function shape_str(s)
  local t = {}
  for i, d in ipairs(s) do t[i] = tostring(d) end
  return "[" .. table.concat(t, ",") .. "]"
end

local function new(op, args, shape, dtype, attrs)
  local copy = {}
  for i, d in ipairs(shape) do copy[i] = d end
  local node = { id = #tape, op = op, args = {}, shape = copy, dtype = dtype or "float",
                 attrs = attrs or {} }
  for i, a in ipairs(args) do node.args[i] = a.id end
  tape[#tape + 1] = node
  -- the shape lives in _s; x.shape hands out a copy the model may change
  return setmetatable({ id = node.id, _s = copy, dtype = node.dtype }, T)
end

local function is_tensor(v) return getmetatable(v) == T end

local function tensor_arg(v, fn)
  if is_tensor(v) then return v end
  if type(v) == "number" then return new("const", {}, {}, "float", { value = v }) end
  fail(fn .. ": expected a tensor or a number, got " .. type(v))
end

local function broadcast(a, b, fn)
  local ra, rb = #a.shape, #b.shape
  local r = math.max(ra, rb)
  local out = {}
  for i = 1, r do
    local da = a.shape[ra - r + i] or 1
    local db = b.shape[rb - r + i] or 1
    if da ~= db and da ~= 1 and db ~= 1 then
      fail(fn .. ": shapes " .. shape_str(a.shape) .. " and " .. shape_str(b.shape) .. " do not broadcast")
    end
    out[i] = da == 1 and db or da
  end
  return out
end

local function binary(op)
  return function(a, b)
    a, b = tensor_arg(a, op), tensor_arg(b, op)
    return new(op, { a, b }, broadcast(a, b, op), "float")
  end
end

local function norm_dim(x, d, fn)
  local r = #x.shape
  if math.type(d) ~= "integer" then fail(fn .. ": dim must be an integer") end
  if d < 0 then d = d + r end
  if d < 0 or d >= r then fail(fn .. ": dim out of range for " .. shape_str(x.shape)) end
  return d
end

T.__add = binary("add")
T.__sub = binary("sub")
T.__mul = binary("mul")
T.__div = binary("div")
T.__pow = binary("pow")
T.__unm = function(a) return new("neg", { a }, a.shape, a.dtype) end
T.__tostring = function(x)
  return "tensor " .. (x.dtype == "float" and "f32" or x.dtype) .. shape_str(x.shape)
end
T.__index = function(x, k)
  if k == "shape" then
    local s = {}
    for i, d in ipairs(rawget(x, "_s")) do s[i] = d end
    return s
  end
  return nil
end

local env = {}
for _, k in ipairs({ "math", "string", "table", "ipairs", "pairs", "tostring", "tonumber",
                     "type", "select", "error", "assert", "pcall", "next", "rawget", "rawequal",
                     "setmetatable", "getmetatable", "unpack" }) do
  env[k] = _G[k]
end
env.print = function(...) io.stderr:write(table.concat({ ... }, "\t"), "\n") end

function env.batch_size(n)
  state.batch = override or n
  return state.batch
end

function env.input(name, shape, opts)
  opts = opts or {}
  local dtype = (opts.dtype == "i32") and "i32" or "float"
  inputs[#inputs + 1] = { name = name, shape = shape, dtype = dtype, classes = opts.classes }
  return new("input", {}, shape, dtype, { name = name })
end

local function add_param(name, shape, init)
  params[#params + 1] = { name = name, shape = shape, init = init }
  return new("param", {}, shape, "float", { name = name })
end

function env.param(name, shape, opts)
  opts = opts or {}
  return add_param(name, shape, { kind = opts.init or "uniform", a = opts.a, b = opts.b,
                                  mean = opts.mean, std = opts.std })
end

function env.linear(x, out, opts)
  opts = opts or {}
  local name = opts.name
  if not name then
    state.nlinear = state.nlinear + 1
    name = "linear" .. state.nlinear
  end
  if #x.shape ~= 2 then fail("linear: input must be 2-D") end
  local fan_in = x.shape[2]
  local k = 1 / math.sqrt(fan_in)
  local w = add_param(name .. ".weight", { out, fan_in }, { kind = "uniform", a = -k, b = k })
  local args = { x, w }
  if opts.bias ~= false then
    args[3] = add_param(name .. ".bias", { out }, { kind = "uniform", a = -k, b = k })
  end
  return new("linear", args, { x.shape[1], out }, "float")
end

-- normalisation layers (torch.nn.BatchNorm*d / LayerNorm): params and state
local function layer_name(opts, prefix, counter)
  if opts.name then return opts.name end
  state[counter] = state[counter] + 1
  return prefix .. state[counter]
end

function env.batch_norm(x, opts)
  opts = opts or {}
  local name = layer_name(opts, "bn", "nbn")
  local C = x.shape[2]
  local args = { x }
  if opts.affine ~= false then
    args[2] = add_param(name .. ".weight", { C }, { kind = "ones" })
    args[3] = add_param(name .. ".bias", { C }, { kind = "zeros" })
  end
  states[#states + 1] = { name = name .. ".running_mean", shape = { C }, init = "zeros" }
  states[#states + 1] = { name = name .. ".running_var", shape = { C }, init = "ones" }
  states[#states + 1] = { name = name .. ".num_batches_tracked", shape = {}, init = "zeros" }
  return new("batch_norm", args, x.shape, x.dtype, { name = name, momentum = opts.momentum or 0.1,
             eps = opts.eps or 1e-5 })
end

function env.layer_norm(x, ns, opts)
  opts = opts or {}
  local name = layer_name(opts, "ln", "nln")
  if type(ns) == "number" then ns = { ns } end
  local args = { x }
  if opts.elementwise_affine ~= false then
    args[2] = add_param(name .. ".weight", ns, { kind = "ones" })
    args[3] = add_param(name .. ".bias", ns, { kind = "zeros" })
  end
  return new("layer_norm", args, x.shape, x.dtype, { normalized_shape = ns, eps = opts.eps or 1e-5 })
end

for _, op in ipairs({ "relu", "gelu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs" }) do
  env[op] = function(x) return new(op, { x }, x.shape, x.dtype) end
end

function env.leaky_relu(x, slope)
  return new("leaky_relu", { x }, x.shape, x.dtype, { negative_slope = slope or 0.01 })
end

function env.softplus(x, beta, threshold)
  return new("softplus", { x }, x.shape, x.dtype, { beta = beta or 1, threshold = threshold or 20 })
end

function env.clamp(x, lo, hi)
  if lo == nil and hi == nil then fail("clamp: at least one of min and max must be given") end
  return new("clamp", { x }, x.shape, x.dtype, { min = lo, max = hi })
end

for _, op in ipairs({ "minimum", "maximum", "gt", "ge", "lt", "le", "eq", "ne" }) do
  env[op] = binary(op)
end

function env.where(c, a, b)
  a, b = tensor_arg(a, "where"), tensor_arg(b, "where")
  return new("where", { c, a, b }, broadcast(c, { shape = broadcast(a, b, "where") }, "where"),
             "float")
end

for _, op in ipairs({ "softmax", "log_softmax" }) do
  env[op] = function(x, dim)
    return new(op, { x }, x.shape, x.dtype, { dim = norm_dim(x, dim or -1, op) })
  end
end

function env.cross_entropy(logits, labels, opts)
  opts = opts or {}
  return new("cross_entropy", { logits, labels }, {}, "float",
             { label_smoothing = opts.label_smoothing or 0 })
end

-- pooling over NCHW: a size is a number or a pair {h, w}
local function pair(v, fn, what)
  if type(v) == "number" then return { v, v } end
  if type(v) == "table" and #v == 2 then return { v[1], v[2] } end
  fail(fn .. ": " .. what .. " must be a number or a pair {h, w}")
end

local function pool(op)
  return function(x, k, s, p, count_include_pad)
    if #x.shape ~= 4 then fail(op .. ": expects an input [N,C,H,W]") end
    k = pair(k, op, "kernel_size")
    s = s == nil and k or pair(s, op, "stride")
    p = pair(p or 0, op, "padding")
    local out = { x.shape[1], x.shape[2] }
    for i = 1, 2 do out[2 + i] = (x.shape[2 + i] + 2 * p[i] - k[i]) // s[i] + 1 end
    return new(op, { x }, out, x.dtype, { kernel_size = k, stride = s, padding = p,
               count_include_pad = count_include_pad ~= false })
  end
end
env.max_pool2d = pool("max_pool2d")
env.avg_pool2d = pool("avg_pool2d")

-- conv2d(x, out, kernel, {stride, padding, dilation, groups, bias, name}):
-- nn.Conv2d's parameters and kaiming-uniform bounds, as samc's layer
function env.conv2d(x, out, k, opts)
  opts = opts or {}
  local name = opts.name
  if not name then
    state.nconv = state.nconv + 1
    name = "conv" .. state.nconv
  end
  if #x.shape ~= 4 then fail("conv2d: expects an input [N,C,H,W]") end
  k = pair(k, "conv2d", "kernel_size")
  local s = pair(opts.stride or 1, "conv2d", "stride")
  local d = pair(opts.dilation or 1, "conv2d", "dilation")
  local g = opts.groups or 1
  local p
  if opts.padding == "same" then
    p = { d[1] * (k[1] - 1) // 2, d[2] * (k[2] - 1) // 2 }
  elseif opts.padding == "valid" then
    p = { 0, 0 }
  else
    p = pair(opts.padding or 0, "conv2d", "padding")
  end
  local cin = x.shape[2]
  local fan_in = cin // g * k[1] * k[2]
  local b = 1 / math.sqrt(fan_in)
  local w = add_param(name .. ".weight", { out, cin // g, k[1], k[2] }, { kind = "uniform", a = -b, b = b })
  local args = { x, w }
  if opts.bias ~= false then
    args[3] = add_param(name .. ".bias", { out }, { kind = "uniform", a = -b, b = b })
  end
  local shape = { x.shape[1], out }
  for i = 1, 2 do
    shape[2 + i] = (x.shape[2 + i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1
  end
  return new("conv2d", args, shape, "float", { stride = s, padding = p, dilation = d, groups = g })
end

function env.adaptive_avg_pool2d(x, size)
  if #x.shape ~= 4 then fail("adaptive_avg_pool2d: expects an input [N,C,H,W]") end
  size = pair(size, "adaptive_avg_pool2d", "output_size")
  return new("adaptive_avg_pool2d", { x }, { x.shape[1], x.shape[2], size[1], size[2] }, x.dtype,
             { output_size = size })
end

-- nn.Embedding: weight N(0, 1)
function env.embedding(idx, num, dim, opts)
  local name = opts and opts.name
  if not name then
    state.nembedding = (state.nembedding or 0) + 1
    name = "embedding" .. state.nembedding
  end
  local w = add_param(name .. ".weight", { num, dim }, { kind = "normal", mean = 0, std = 1 })
  local s = idx.shape
  s[#s + 1] = dim
  return new("embedding", { idx, w }, s, "float")
end

-- dropout: samc fills "rng.<name>" each step; torch_ref.py recomputes it (philox.py)
function env.dropout(x, p, opts)
  p = p or 0.5
  local name = opts and opts.name
  if not name then
    state.ndropout = (state.ndropout or 0) + 1
    name = "dropout" .. state.ndropout
  end
  return new("dropout", { x }, x.shape, x.dtype, { p = p, name = name })
end

function env.mse_loss(a, b) return new("mse_loss", { a, b }, {}, "float") end

-- the shape of a loss of x under reduction "mean" (default), "sum" or "none"
local function reduced(x, opts, keep)
  local r = (opts or {}).reduction or "mean"
  return r == "none" and keep or {}, r
end

function env.nll_loss(logp, labels, opts)
  local s, r = reduced(logp, opts, { logp.shape[1] })
  return new("nll_loss", { logp, labels }, s, "float", { reduction = r })
end

function env.binary_cross_entropy_with_logits(x, t, opts)
  local s, r = reduced(x, opts, x.shape)
  local args = { x, t }
  if opts and opts.pos_weight then args[3] = tensor_arg(opts.pos_weight, "binary_cross_entropy_with_logits") end
  return new("bce_with_logits", args, s, "float", { reduction = r })
end
function env.accuracy(logits, labels) return new("accuracy", { logits, labels }, {}, "float") end

-- torch.matmul of 2-D and 3-D operands (batches broadcast)
function env.matmul(a, b)
  local ra, rb = #a.shape, #b.shape
  if ra < 2 or ra > 3 or rb < 2 or rb > 3 or a.shape[ra] ~= b.shape[rb - 1] then
    fail("matmul: cannot multiply " .. shape_str(a.shape) .. " by " .. shape_str(b.shape))
  end
  local m, n = a.shape[ra - 1], b.shape[rb]
  if ra == 2 and rb == 2 then return new("matmul", { a, b }, { m, n }, "float") end
  local ba, bb = ra == 3 and a.shape[1] or 1, rb == 3 and b.shape[1] or 1
  return new("matmul", { a, b }, { math.max(ba, bb), m, n }, "float")
end

function env.reshape(x, shape)
  local total, known, hole = 1, 1, nil
  for _, d in ipairs(x.shape) do total = total * d end
  local s = {}
  for i, d in ipairs(shape) do
    s[i] = d
    if d == -1 then hole = i else known = known * d end
  end
  if hole then s[hole] = total // known end
  return new("reshape", { x }, s, x.dtype, { shape = s })
end

function env.transpose(x, d0, d1)
  d0, d1 = norm_dim(x, d0, "transpose"), norm_dim(x, d1, "transpose")
  local s = x.shape
  s[d0 + 1], s[d1 + 1] = s[d1 + 1], s[d0 + 1]
  return new("transpose", { x }, s, x.dtype, { d0 = d0, d1 = d1 })
end

-- slicing and joining (torch.flatten, Tensor.narrow, torch.cat)
function env.flatten(x, s, e)
  local r = #x.shape
  if r == 0 then return new("reshape", { x }, { 1 }, x.dtype, { shape = { 1 } }) end
  s, e = norm_dim(x, s or 1, "flatten"), norm_dim(x, e or -1, "flatten")
  if s > e then fail("flatten: start_dim comes after end_dim") end
  local out, m = {}, 1
  for i, d in ipairs(x.shape) do
    if i - 1 < s or i - 1 > e then out[#out + 1] = d
    else
      m = m * d
      if i - 1 == e then out[#out + 1] = m end
    end
  end
  return new("reshape", { x }, out, x.dtype, { shape = out })
end

function env.narrow(x, dim, start, length)
  dim = norm_dim(x, dim, "narrow")
  local s = x.shape
  if start < 0 then start = start + s[dim + 1] end
  if start < 0 or length < 1 or start + length > s[dim + 1] then
    fail("narrow: window out of range for " .. shape_str(s))
  end
  s[dim + 1] = length
  return new("narrow", { x }, s, x.dtype, { dim = dim, start = start, length = length })
end

function env.cat(xs, dim)
  if type(xs) ~= "table" or #xs == 0 then fail("cat: expected a table of tensors") end
  dim = norm_dim(xs[1], dim or 0, "cat")
  local s = xs[1].shape
  for i = 2, #xs do s[dim + 1] = s[dim + 1] + xs[i].shape[dim + 1] end
  return new("cat", xs, s, xs[1].dtype, { dim = dim })
end

for _, op in ipairs({ "sum", "mean", "max" }) do
  env[op] = function(x, dim, keepdim)
    local s = {}
    if dim == nil then
      if keepdim then for i = 1, #x.shape do s[i] = 1 end end
      return new(op, { x }, s, x.dtype, { keepdim = keepdim and true or false })
    end
    dim = norm_dim(x, dim, op)
    for i, d in ipairs(x.shape) do
      if i - 1 ~= dim then s[#s + 1] = d elseif keepdim then s[#s + 1] = 1 end
    end
    return new(op, { x }, s, x.dtype, { dim = dim, keepdim = keepdim and true or false })
  end
end

-- JSON output ---------------------------------------------------------------

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return n > 0 or next(t) == nil
end

local function encode(v, out)
  local tv = type(v)
  if is_tensor(v) then
    out[#out + 1] = string.format('{"$tensor":%d}', v.id)
  elseif tv == "table" then
    if next(v) ~= nil and is_array(v) then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        encode(x, out)
      end
      out[#out + 1] = "]"
    else
      out[#out + 1] = "{"
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        encode(k, out)
        out[#out + 1] = ":"
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        encode(x, out)
      end
      out[#out + 1] = "}"
    end
  elseif tv == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif tv == "number" then
    if math.type(v) == "integer" then
      out[#out + 1] = string.format("%d", v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      error("trace.lua: cannot encode " .. tostring(v) .. " in JSON")
    else
      out[#out + 1] = string.format("%.17g", v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif v == nil then
    out[#out + 1] = "null"
  else
    error("trace.lua: cannot encode a " .. tv)
  end
end

local chunk, err = loadfile(path, "t", env)
if not chunk then
  io.stderr:write(err, "\n")
  os.exit(1)
end
local ok, recipe = xpcall(chunk, debug.traceback)
if not ok then
  io.stderr:write(tostring(recipe), "\n")
  os.exit(1)
end
if type(recipe) ~= "table" then
  io.stderr:write(path .. ": the model must return a table\n")
  os.exit(1)
end

local out = {}
encode({ tape = tape, params = params, inputs = inputs, states = states, recipe = recipe,
         batch_size = state.batch }, out)
io.write(table.concat(out), "\n")
