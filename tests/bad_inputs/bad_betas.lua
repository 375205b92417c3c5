-- expect: bad_betas.lua:5: recipe: optimizer.betas[2] must be in [0, 1), got 1.5
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(x, 10), y), optimizer = { name = "adamw", betas = {0.9, 1.5} } }
