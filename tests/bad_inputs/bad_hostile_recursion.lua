-- expect: bad_hostile_recursion.lua:3: stack overflow
-- Unbounded Lua recursion: Lua's own limit, reported with the model line.
local function f(n) return f(n + 1) + 1 end
local B = batch_size(4)
local x = input("x", {B, 4})
f(1)
return { loss = mean(x), epochs = 1, optimizer = {name = "sgd", lr = 0.1} }
