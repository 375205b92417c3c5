-- kink.lua - a model whose relu kinks lie inside the finite-difference
-- window of `samc check` (tests/check/tests.cmake): `k` starts uniform in
-- +-1e-6, the window is w +- 1e-6, so the central difference of relu(k)
-- averages the slopes 0 and 1 where the gradient is one of them.
local B = batch_size(8)
local x = input("x", {B, 4})
local y = input("y", {B}, {dtype = "i32", classes = 3})
local k = param("k", {6}, {init = "uniform", a = -1e-6, b = 1e-6})
local logits = linear(relu(linear(x, 5, {name = "fc1"})), 3, {name = "fc2"})
return {
  loss = cross_entropy(logits, y) + sum(relu(k)),
  optimizer = { name = "sgd", lr = 0.1 },
}
