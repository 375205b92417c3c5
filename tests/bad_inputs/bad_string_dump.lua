-- expect: bad_string_dump.lua:2: attempt to call a nil value (field 'dump')
local s = string.dump(function() return 1 end)
return {}
