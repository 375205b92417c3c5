-- expect: bad_loss_not_scalar.lua:6: recipe: loss must be a float scalar, got tensor f32[128] (reduce it with mean(...) or sum(...))
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
local logits = linear(x, 10)
local per_example = cross_entropy(logits, y, {reduction = "none"})
return { loss = per_example, optimizer = { name = "sgd", lr = 0.1 } }
