"""A stdlib-only JSON-RPC 2.0 peer for Rpc's interop test: python3 jsonrpc_client.py /path/to/socket
Sends Content-Length-framed requests to the test host and prints one JSON object: {case: response}."""
import json, socket, sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(20)
sock.connect(sys.argv[1])
buf = b""

def send(msg):
    body = json.dumps(msg).encode("utf-8")
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

def receive():
    global buf
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536) or sys.exit("server closed the connection")
    head, buf = buf.split(b"\r\n\r\n", 1)
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(buf) < length:
        buf += sock.recv(65536) or sys.exit("server closed the connection")
    body, buf = buf[:length], buf[length:]
    return json.loads(body)

cases = {1: "positional", 2: "named", 3: "not_found", 4: "invalid_params", 5: "exception", 6: "cancelled", 7: "notified"}
duplicate = "duplicate"  # id 6 again while call 6 runs: rejected with -32600, and call 6 is still cancellable by its id
send({"jsonrpc": "2.0", "id": 1, "method": "Add", "params": [40, 2]})
send({"jsonrpc": "2.0", "id": 2, "method": "Add", "params": {"a": 5, "b": 2}})
send({"jsonrpc": "2.0", "id": 3, "method": "NoSuchMethod", "params": []})
send({"jsonrpc": "2.0", "id": 4, "method": "Add", "params": ["x", "y"]})
send({"jsonrpc": "2.0", "id": 5, "method": "Throw", "params": ["boom"]})
send({"jsonrpc": "2.0", "id": 6, "method": "WaitForCancellation", "params": []})
send({"jsonrpc": "2.0", "method": "Notify", "params": ["hello from python"]})
send({"jsonrpc": "2.0", "id": 7, "method": "GetNotifications"})
send({"jsonrpc": "2.0", "id": 6, "method": "Add", "params": [1, 2]})
send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 6}})
results = {}
while len(results) < len(cases) + 1:
    reply = receive()
    invalid_request = reply.get("error", {}).get("code") == -32600
    results[duplicate if invalid_request else cases[reply["id"]]] = reply
print(json.dumps(results))
