-- expect: bad_group_prefix.lua:5: recipe: optimizer.groups[1].prefix 'fc3.' matches no parameter (parameters: fc1.weight, fc1.bias, fc2.weight, fc2.bias)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "sgd", groups = { {prefix = "fc3.", lr_scale = 0.1} } } }
