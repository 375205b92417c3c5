-- expect: bad_rmsprop_nesterov.lua:5: recipe: optimizer.nesterov does not apply to rmsprop (sgd only)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "rmsprop", momentum = 0.9, nesterov = true } }
