-- expect: bad_no_decay_type.lua:5: recipe: optimizer.no_decay[2] must be a non-empty string (a part of parameter names, e.g. "bias")
local B = batch_size(128)
local x = input("x", {B, 784})
local y = input("y", {B}, {dtype = "i32", classes = 10})
return { loss = cross_entropy(linear(relu(linear(x, 32, {name = "fc1"})), 10, {name = "fc2"}), y),
         optimizer = { name = "sgd", no_decay = {"bias", 3} } }
