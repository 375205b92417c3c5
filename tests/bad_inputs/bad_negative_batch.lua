-- expect: bad_negative_batch.lua:2: batch_size: argument 1 (n) must be a positive integer, got -128
local B = batch_size(-128)
return {}
