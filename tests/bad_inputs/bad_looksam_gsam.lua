-- expect: bad_looksam_gsam.lua:5: recipe: optimizer.sam.looksam and optimizer.sam.gsam cannot be combined: LookSAM reuses the SAM gradient, GSAM replaces it
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, sam = { rho = 0.05, gsam = { alpha = 0.1 }, looksam = { k = 3 } } },
}
