-- expect: bad_hostile_table.lua:6: memory budget exceeded (more than 64 MiB)
-- A huge table of layer descriptions: the sandbox's memory budget.
local B = batch_size(4)
local x = input("x", {B, 4})
local layers = {}
for i = 1, 5000000 do layers[i] = {width = i, act = "relu"} end
return { loss = mean(x), epochs = 1, optimizer = {name = "sgd", lr = 0.1} }
