-- expect: bad_huge_product.lua:7: matmul: shape [2097152,2097152] has more than 2^40 elements
-- Each operand is small; the outer product's shape is what passes the
-- limit, and it is refused at the op that derives it.
local B = batch_size(2097152)
local x = input("x", {B, 1})
local w = param("w", {1, 2097152})
local h = matmul(x, w)
return { loss = mean(h), epochs = 1, optimizer = {name = "sgd", lr = 0.1},
         data = { format = "csv", train = {x = "a.csv"} } }
