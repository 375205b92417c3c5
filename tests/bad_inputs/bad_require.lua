-- expect: bad_require.lua:2: attempt to call a nil value (global 'require')
local socket = require("socket")
return {}
