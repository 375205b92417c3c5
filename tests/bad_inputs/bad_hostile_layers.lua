-- expect: bad_hostile_layers.lua:6: add: the model builds more than 200000 ops, the most samc compiles
-- 100,000 linear layers (400,000 ops): refused by the op budget, not
-- compiled for minutes.
local B = batch_size(4)
local x = input("x", {B, 4})
local h = x; for i = 1, 100000 do h = linear(h, 4, {name = "l" .. i}) end
return { loss = mean(h), epochs = 1, optimizer = {name = "sgd", lr = 0.1} }
