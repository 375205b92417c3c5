-- expect: bad_hostile_params.lua:5: param: the model builds more than 200000 ops
-- 300,000 parameters, each checked for a duplicate name (a hash lookup).
local B = batch_size(4)
local x = input("x", {B, 4})
for i = 1, 300000 do param("p" .. i, {4}) end
return { loss = mean(x), epochs = 1, optimizer = {name = "sgd", lr = 0.1} }
