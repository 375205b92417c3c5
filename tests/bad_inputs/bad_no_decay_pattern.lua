-- expect: bad_no_decay_pattern.lua:5: recipe: optimizer.no_decay[2] 'norm' is in no parameter's name (parameters: fc1.weight, fc1.bias, fc2.weight, fc2.bias)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "sgd", weight_decay = 1e-4, no_decay = {"bias", "norm"} } }
