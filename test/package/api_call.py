"""api_call.py SOCKET METHOD PARAMS_JSON: one JSON-RPC 2.0 call to sscardd's API; prints the answer."""
import json
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(15)
sock.connect(sys.argv[1])
request = {"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": json.loads(sys.argv[3])}
sock.sendall(json.dumps(request).encode() + b"\n")
answer = b""
while not answer.endswith(b"\n"):
    chunk = sock.recv(65536)
    if not chunk:
        break
    answer += chunk
print(answer.decode().strip())
