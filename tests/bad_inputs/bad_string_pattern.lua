-- expect: bad_string_pattern.lua:3: attempt to call a nil value (method 'find')
-- pattern matching backtracks in C, beyond the instruction budget
local hit = ("a"):rep(100000):find(".-.-.-.-b")
return {}
