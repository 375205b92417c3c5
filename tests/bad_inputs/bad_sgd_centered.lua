-- expect: bad_sgd_centered.lua:5: recipe: optimizer.centered does not apply to sgd (rmsprop only)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "sgd", centered = true } }
