"""SPDY/3.1 framing, sans I/O: bytes in, frames out, and frames to bytes.

kubectl up to 1.29 (exec, attach, cp, port-forward) and 1.30+ (port-forward, tunnelled
in a WebSocket) speak SPDY/3.1 through Go's spdystream. No maintained Python SPDY
implementation exists (spdylay's bindings and spdy-py are abandoned, and partial), so
this module writes the framing of the SPDY/3 draft (with 3.1's session window): every
frame is an 8-byte head, then a payload; control frames carry a type, data frames a
stream id. Name/value header blocks are zlib-compressed with SPDY/3's dictionary, one
compression context per direction for the connection's life, a SYNC_FLUSH per block.

`Parser.feed(data)` returns the complete frames so far and keeps the rest; the `encode_*`
functions build frames. The asyncio session on top is `spdy_session.py`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02
# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, FLOW_CONTROL_ERROR = 1, 2, 3, 5, 7
SETTINGS_INITIAL_WINDOW_SIZE = 7
DEFAULT_WINDOW = 65536
MAX_FRAME = 0xFFFFFF

# SPDY/3 draft, 2.6.10.1: the header compression dictionary. Its first part is a list of
# 32-bit-length-prefixed words, its tail one plain string.
_WORDS = [
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location",
    "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
    "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
    "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization",
    "range", "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"
]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class SpdyError(Exception):
    """A malformed frame: the session answers with GOAWAY and closes."""


Headers = dict[str, list[str]]


@dataclass
class Data:
    stream_id: int
    data: bytes
    flags: int = 0


@dataclass
class SynStream:
    stream_id: int
    headers: Headers
    flags: int = 0
    associated: int = 0
    priority: int = 0


@dataclass
class SynReply:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass
class RstStream:
    stream_id: int
    status: int


@dataclass
class Settings:
    values: dict[int, int] = field(default_factory=dict)
    flags: int = 0


@dataclass
class Ping:
    id: int


@dataclass
class GoAway:
    last_good: int
    status: int = 0


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass
class WindowUpdate:
    stream_id: int
    delta: int


Frame = Data | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate


class HeaderCodec:
    """One direction's header compression context (the connection keeps one each way)."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                                         zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: Headers) -> bytes:
        out = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            n, v = name.lower().encode(), "\0".join(values).encode()
            out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
        raw = b"".join(out)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> Headers:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as e:
            raise SpdyError(f"header block: {e}") from None
        try:
            (count,), pos, out = struct.unpack_from(">I", raw), 4, {}
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4:pos + 4 + n].decode()
                pos += 4 + n
                (n,) = struct.unpack_from(">I", raw, pos)
                out.setdefault(name.lower(), []).extend(raw[pos + 4:pos + 4 + n].decode().split("\0"))
                pos += 4 + n
        except (struct.error, UnicodeDecodeError) as e:
            raise SpdyError(f"header block: {e}") from None
        if pos != len(raw):
            raise SpdyError("header block: trailing bytes")
        return out


def _control(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


def encode_syn_stream(codec: HeaderCodec, stream_id: int, headers: Headers, flags: int = 0) -> bytes:
    return _control(SYN_STREAM, flags, struct.pack(">IIH", stream_id, 0, 0) + codec.encode(headers))


def encode_syn_reply(codec: HeaderCodec, stream_id: int, headers: Headers, flags: int = 0) -> bytes:
    return _control(SYN_REPLY, flags, struct.pack(">I", stream_id) + codec.encode(headers))


def encode_headers(codec: HeaderCodec, stream_id: int, headers: Headers, flags: int = 0) -> bytes:
    return _control(HEADERS, flags, struct.pack(">I", stream_id) + codec.encode(headers))


def encode_rst_stream(stream_id: int, status: int) -> bytes:
    return _control(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def encode_settings(values: dict[int, int], flags: int = 0) -> bytes:
    body = struct.pack(">I", len(values)) + b"".join(struct.pack(">II", k & 0xFFFFFF, v) for k, v in values.items())
    return _control(SETTINGS, flags, body)


def encode_ping(ping_id: int) -> bytes:
    return _control(PING, 0, struct.pack(">I", ping_id))


def encode_goaway(last_good: int, status: int = 0) -> bytes:
    return _control(GOAWAY, 0, struct.pack(">II", last_good, status))


def encode_window_update(stream_id: int, delta: int) -> bytes:
    return _control(WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))


class Parser:
    """Frames out of a byte stream; decodes header blocks with the peer's context."""

    def __init__(self, codec: HeaderCodec) -> None:
        self.codec = codec
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = flags_len >> 24
            if word & 0x80000000:
                frame = self._control((word >> 16) & 0x7FFF, word & 0xFFFF, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(Data(word & 0x7FFFFFFF, payload, flags))
        return frames

    def _control(self, version: int, ftype: int, flags: int, p: bytes) -> Frame | None:
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        need = {SYN_STREAM: 10, SYN_REPLY: 4, RST_STREAM: 8, SETTINGS: 4, PING: 4, GOAWAY: 4, HEADERS: 4,
                WINDOW_UPDATE: 8}.get(ftype)
        if need is None:
            return None  # the draft: unknown control frames are ignored
        if len(p) < need:
            raise SpdyError(f"control frame {ftype} too short ({len(p)} bytes)")
        u32 = struct.unpack_from(">I", p)[0]
        sid = u32 & 0x7FFFFFFF
        if ftype == SYN_STREAM:
            assoc, pri = struct.unpack_from(">IB", p, 4)
            return SynStream(sid, self.codec.decode(p[10:]), flags, assoc & 0x7FFFFFFF, pri >> 5)
        if ftype == SYN_REPLY:
            return SynReply(sid, self.codec.decode(p[4:]), flags)
        if ftype == HEADERS:
            return HeadersFrame(sid, self.codec.decode(p[4:]), flags)
        if ftype == RST_STREAM:
            return RstStream(sid, struct.unpack_from(">I", p, 4)[0])
        if ftype == SETTINGS:
            if len(p) < 4 + 8 * u32:
                raise SpdyError("SETTINGS frame too short")
            pairs = (struct.unpack_from(">II", p, 4 + 8 * i) for i in range(u32))
            return Settings({k & 0xFFFFFF: v for k, v in pairs}, flags)
        if ftype == PING:
            return Ping(u32)
        if ftype == GOAWAY:
            return GoAway(sid, struct.unpack_from(">I", p, 4)[0] if len(p) >= 8 else 0)
        return WindowUpdate(sid, struct.unpack_from(">I", p, 4)[0] & 0x7FFFFFFF)
