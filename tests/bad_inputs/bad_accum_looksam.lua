-- expect: bad_accum_looksam.lua:5: recipe: optimizer.accumulate = 2 cannot be combined with optimizer.sam.looksam (LookSAM's steps between reuse one batch's g_v; give one of them)
local B = batch_size(8)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, accumulate = 2, sam = { looksam = { k = 5 } } },
}
