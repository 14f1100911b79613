"""Independent jobmatch client written from CONTRACT.md and docs/protocol.md only.

Framing: 4-byte big-endian length N, then N bytes holding one msgpack map.
Envelope: {"id", "op", "args"} -> {"id", "ok", "result"|"error"}.
Push frames ({"id": 0, "push": ..., "data": ...}, no "ok") are skipped and kept.
"""
import socket
import struct

import msgpack


class ProtocolError(Exception):
    pass


class RemoteError(Exception):
    def __init__(self, op, code, message, error):
        super().__init__(f"{op}: {code}: {message}")
        self.op = op
        self.code = code
        self.message = message
        self.error = error


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def frame(body):
    return struct.pack(">I", len(body)) + body


class Client:
    def __init__(self, host, port, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_id = 1
        self.pushes = []
        self._buf = b""

    # --- low level -------------------------------------------------------
    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_body(self, body):
        self.sock.sendall(frame(body))

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def recv_frame(self):
        """One frame, whatever it is (response or push)."""
        (length,) = struct.unpack(">I", self._read_exact(4))
        body = self._read_exact(length)
        obj = msgpack.unpackb(body, raw=False, strict_map_key=False)
        if not isinstance(obj, dict):
            raise ProtocolError("response body is not a map")
        return obj

    def recv(self):
        """Next response (skipping and keeping push frames)."""
        while True:
            obj = self.recv_frame()
            if "ok" not in obj and "push" in obj:
                self.pushes.append(obj)
                continue
            return obj

    def is_closed(self, wait=3.0):
        """True when the server has closed (EOF or reset) within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self._buf += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    # --- requests ---------------------------------------------------------
    def send(self, op, args=None, req_id=None, extra=None):
        if req_id is None:
            req_id = self.next_id
            self.next_id += 1
        req = {"id": req_id, "op": op}
        if args is not None:
            req["args"] = args
        if extra:
            req.update(extra)
        self.send_body(pack(req))
        return req_id

    def request(self, op, args=None):
        """Send and return the whole response map (ok or not)."""
        req_id = self.send(op, args)
        resp = self.recv()
        if resp.get("id") != req_id:
            raise ProtocolError(f"response id {resp.get('id')} for request {req_id}")
        return resp

    def call(self, op, args=None):
        resp = self.request(op, args)
        if resp.get("ok") is True:
            return resp.get("result")
        err = resp.get("error") or {}
        raise RemoteError(op, err.get("code"), err.get("message"), err)

    def pipeline(self, reqs):
        """Send [(op, args), ...] in one write, return the responses in order."""
        ids = []
        data = b""
        for op, args in reqs:
            rid = self.next_id
            self.next_id += 1
            req = {"id": rid, "op": op}
            if args is not None:
                req["args"] = args
            data += frame(pack(req))
            ids.append(rid)
        self.sock.sendall(data)
        out = [self.recv() for _ in ids]
        for rid, resp in zip(ids, out):
            if resp.get("id") != rid:
                raise ProtocolError(f"pipelined response id {resp.get('id')} != {rid}")
        return out

    def hello(self, key=None, protocol=1):
        args = {"protocol": protocol}
        if key is not None:
            args["key"] = key
        return self.call("hello", args)


def connect(addr, key=None, timeout=30.0):
    host, port = addr.rsplit(":", 1)
    c = Client(host.strip("[]"), int(port), timeout=timeout)
    if key is not None:
        c.hello(key)
    return c
