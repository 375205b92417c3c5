-- expect: bad_looksam_every.lua:5: recipe: optimizer.sam.every = 2 and optimizer.sam.looksam both set how often a SAM step runs: LookSAM's period is looksam.k
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return {
  loss = cross_entropy(linear(x, 10), y),
  optimizer = { name = "sgd", lr = 0.1, sam = { rho = 0.05, every = 2, looksam = { k = 3 } } },
}
