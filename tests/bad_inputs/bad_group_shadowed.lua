-- expect: bad_group_shadowed.lua:5: recipe: optimizer.groups[2].prefix 'fc1.': every parameter it matches is in an earlier group (the first group that matches a name wins)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "sgd", groups = { {prefix = "fc"}, {prefix = "fc1.", lr_scale = 0.1} } } }
