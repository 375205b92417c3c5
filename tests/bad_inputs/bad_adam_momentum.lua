-- expect: bad_adam_momentum.lua:5: recipe: optimizer.momentum does not apply to adam (sgd, rmsprop only; see betas)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(x, 10), y), optimizer = { name = "adam", momentum = 0.9 } }
