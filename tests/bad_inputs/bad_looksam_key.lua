-- expect: bad_looksam_key.lua:5: recipe: unknown recipe key 'optimizer.sam.looksam.kk' (known keys here: k, alpha)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, sam = { looksam = { kk = 2 } } },
}
