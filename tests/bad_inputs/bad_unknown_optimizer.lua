-- expect: bad_unknown_optimizer.lua:5: recipe: unknown optimizer 'lbfgs' (known: sgd, adam, adamw, rmsprop)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(x, 10), y), optimizer = { name = "lbfgs", lr = 0.1 } }
