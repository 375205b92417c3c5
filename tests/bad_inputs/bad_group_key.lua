-- expect: bad_group_key.lua:5: recipe: unknown recipe key 'optimizer.groups[1].lr' (known keys here: prefix, lr_scale, weight_decay)
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "adam", groups = { {prefix = "fc1.", lr = 0.1} } } }
