-- expect: bad_load_binary.lua:4: attempt to call a nil value (global 'load')
-- a hand-made binary chunk: load does not exist in the sandbox
local chunk = "\27Lua\84\0\25\147\13\10\26\10\4\8\8"
local f = load(chunk, "x", "b")
return {}
