-- expect: bad_ce_reduction.lua:5: cross_entropy: option reduction must be "mean" or "none", got "sum"
local B = batch_size(8)
local x = input("x", {B, 4})
local y = input("y", {B}, {dtype = "i32", classes = 4})
local loss = cross_entropy(x, y, {reduction = "sum"})
return { loss = loss, optimizer = { name = "sgd", lr = 0.1 } }
