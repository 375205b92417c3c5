-- expect: bad_hostile_name.lua:5: param: argument 1 (name) "wwwwwwww
-- A 100,000-character parameter name: not a valid name (they become
-- checkpoint keys and symbol parts), refused before it is used.
local B = batch_size(4)
local w = param(string.rep("w", 100000), {4, 4})
local x = input("x", {B, 4})
return { loss = mean(matmul(x, w)), epochs = 1, optimizer = {name = "sgd", lr = 0.1} }
