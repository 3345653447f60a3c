"""driver_call.py FUNCTION ITYPE: calls FUNCTION(iType, buffer) of the installed libSSCardDriver.so.1
the way a kiosk application does (by soname, default socket); prints "<return code> <output as GBK>"."""
import ctypes
import sys

lib = ctypes.CDLL("libSSCardDriver.so.1")
function = getattr(lib, sys.argv[1])
function.restype = ctypes.c_long
function.argtypes = [ctypes.c_int, ctypes.c_char_p]
out = ctypes.create_string_buffer(1024)
code = function(int(sys.argv[2]), out)
print(code, out.value.decode("gbk"))
