-- expect: bad_input_before_batch.lua:2: input: call batch_size(N) before input()
local x = input("x", {128, 784})
return {}
