-- expect: bad_os_execute.lua:3: attempt to index a nil value (global 'os')
local B = batch_size(128)
os.execute("touch /tmp/samc_pwned")
return {}
