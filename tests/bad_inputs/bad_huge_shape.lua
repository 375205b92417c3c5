-- expect: bad_huge_shape.lua:5: input 'x': shape [4,2147483648,2147483648,2147483648] has more than 2^40 elements
-- Four dimensions whose product passes int64: refused where the input is
-- declared, not wrapped around into garbage later.
local B = batch_size(4)
local x = input("x", {B, 2^31, 2^31, 2^31})
return { loss = mean(x), epochs = 1, optimizer = {name = "sgd", lr = 0.1},
         data = { format = "csv", train = {x = "a.csv"} } }
