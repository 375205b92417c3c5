-- expect: bad_rmsprop_alpha.lua:5: recipe: optimizer.alpha must be in [0, 1], got 1.5
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "rmsprop", alpha = 1.5 } }
