-- expect: bad_hostile_chain.lua:7: mul: the model builds more than 200000 ops, the most samc compiles
-- A million chained elementwise ops: cheap for Lua (no budget stops it),
-- costly for every pass after the front end. Refused at the op that passes
-- the limit, in well under a second.
local B = batch_size(4)
local x = input("x", {B, 8})
local h = x; for i = 1, 1000000 do h = h * 1.0001 end
return { loss = mean(h), epochs = 1, optimizer = {name = "sgd", lr = 0.1} }
