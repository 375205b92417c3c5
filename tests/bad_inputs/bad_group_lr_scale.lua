-- expect: bad_group_lr_scale.lua:5: recipe: optimizer.groups[1].lr_scale must be >= 0, got -1
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "adam", groups = { {prefix = "fc1.", lr_scale = -1} } } }
