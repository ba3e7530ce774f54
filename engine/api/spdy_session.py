"""An asyncio SPDY/3.1 session over any byte pipe (an upgraded HTTP connection, or a
WebSocket that tunnels SPDY), with streams that read, write, half-close and reset.

One task (`run`) reads the pipe, parses frames (`spdy.py`) and hands each stream its
bytes. Writers share one lock, so a frame and the header context it was compressed with
reach the pipe in order, and each write waits for `drain()`: the pipe's back-pressure
reaches whoever produces the data.

Flow control: every DATA byte is counted against the peer's stream and session windows
(64 KiB at start, SPDY/3.1), and what a stream's reader consumed is given back with
WINDOW_UPDATE. The windows are only *enforced* once the peer shows it keeps them (it
sent a WINDOW_UPDATE or an initial window in SETTINGS): Go's spdystream, the SPDY of
every kubectl, neither sends nor reads WINDOW_UPDATE, and would stall at 64 KiB. With
such a peer the reader side is bounded instead: when the streams hold more than
`max_buffered` unread bytes, the session stops reading the pipe until they are read,
so TCP pushes back on the sender.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Protocol

from . import spdy

log = logging.getLogger(__name__)
CHUNK = 1 << 18  # bytes per DATA frame: fewer, larger frames cost spdystream far less


class Wire(Protocol):
    async def read(self) -> bytes: ...  # b"" at EOF
    async def send(self, data: bytes) -> None: ...  # returns once the pipe has room again
    def close(self) -> None: ...


class Stream:
    def __init__(self, session: Session, stream_id: int, headers: spdy.Headers) -> None:
        self.session, self.id, self.headers = session, stream_id, headers
        self._buf = bytearray()
        self._changed = asyncio.Event()
        self.remote_closed = self.local_closed = self.was_reset = False
        self.replied = asyncio.Event()
        self.send_window = session.peer_initial_window
        self._unacked = 0  # consumed bytes not yet given back with WINDOW_UPDATE

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def _wake(self) -> None:
        self._changed.set()

    def _drop(self) -> None:
        """Nobody will read this stream again: its bytes must not hold the session back."""
        self._buf.clear()
        self._wake()
        self.session._check_room()

    async def read(self, n: int = CHUNK) -> bytes:
        """Up to n bytes; b"" once the peer finished (FIN) or reset the stream."""
        while not self._buf:
            if self.remote_closed or self.was_reset or self.session.closed:
                return b""
            self._changed.clear()
            await self._changed.wait()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        await self.session._consumed(self, len(data))
        return data

    async def read_all(self) -> bytes:
        out = bytearray()
        while chunk := await self.read():
            out += chunk
        return bytes(out)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = await self.session._window(self, len(view))
            if self.local_closed or self.was_reset:
                raise ConnectionResetError(f"stream {self.id} is closed")
            await self.session._send(spdy.encode_data(self.id, bytes(view[:n])))
            view = view[n:]

    async def close(self) -> None:
        """Half-close: FIN, this side sends nothing more."""
        if self.local_closed or self.was_reset or self.session.closed:
            return
        self.local_closed = True
        with suppress(ConnectionError):
            await self.session._send(spdy.encode_data(self.id, b"", spdy.FLAG_FIN))
        self.session._forget_if_done(self)

    async def reset(self, status: int = spdy.CANCEL) -> None:
        if self.was_reset or self.session.closed:
            return
        self.was_reset = True
        self._drop()
        with suppress(ConnectionError):
            await self.session._send(spdy.encode_rst_stream(self.id, status))
        self.session._forget_if_done(self)


class Session:
    def __init__(self, wire: Wire, *, server: bool = True, max_buffered: int = 4 * CHUNK) -> None:
        self.wire, self.server, self.max_buffered = wire, server, max_buffered
        self._out, self._in = spdy.HeaderCodec(), spdy.HeaderCodec()
        self._parser = spdy.Parser(self._in)
        self._lock = asyncio.Lock()
        self.streams: dict[int, Stream] = {}
        self._incoming: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._next_id = 2 if server else 1
        self._last_peer_id = 0
        self.peer_initial_window = spdy.DEFAULT_WINDOW
        self.send_window = spdy.DEFAULT_WINDOW  # the peer's session window (3.1)
        self.peer_flow_control = False
        self._window_open = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.closed = False
        self.ended = asyncio.Event()  # set once the pipe is gone
        self.going_away = False

    # ---- the read side -------------------------------------------------------------
    async def run(self) -> None:
        """Read frames until the pipe ends; then every stream reads EOF."""
        try:
            while data := await self.wire.read():
                for frame in self._parser.feed(data):
                    await self._handle(frame)
                await self._room.wait()
        except spdy.SpdyError as e:
            log.info("SPDY protocol error: %s", e)
            with suppress(ConnectionError):
                await self._send(spdy.encode_goaway(self._last_peer_id, 1))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._shut()

    def _shut(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.ended.set()
        self._window_open.set()
        self._room.set()
        for s in self.streams.values():
            s._wake()
        self._incoming.put_nowait(None)

    async def accept(self) -> Stream | None:
        """The next stream the peer opened (already answered with SYN_REPLY), or None when
        the session is over."""
        return await self._incoming.get()

    def _buffered(self) -> int:
        return sum(len(s._buf) for s in self.streams.values())

    async def _handle(self, f: spdy.Frame) -> None:
        if isinstance(f, spdy.Data):
            s = self.streams.get(f.stream_id)
            if s is None or s.was_reset:
                return  # late data for a stream already gone
            if f.data:
                s._buf += f.data
                if self._buffered() > self.max_buffered:
                    self._room.clear()
            if f.flags & spdy.FLAG_FIN:
                s.remote_closed = True
                self._forget_if_done(s)
            s._wake()
        elif isinstance(f, spdy.SynStream):
            if (f.stream_id % 2 == 0) == self.server or f.stream_id <= self._last_peer_id:
                await self._send(spdy.encode_rst_stream(f.stream_id, spdy.PROTOCOL_ERROR))
                return
            self._last_peer_id = f.stream_id
            if self.going_away:
                await self._send(spdy.encode_rst_stream(f.stream_id, spdy.REFUSED_STREAM))
                return
            s = Stream(self, f.stream_id, f.headers)
            s.remote_closed = bool(f.flags & spdy.FLAG_FIN)
            s.local_closed = bool(f.flags & spdy.FLAG_UNIDIRECTIONAL)
            self.streams[s.id] = s
            if not s.local_closed:
                await self._send(spdy.encode_syn_reply(self._out, s.id, {}))
            self._incoming.put_nowait(s)
        elif isinstance(f, spdy.SynReply):
            if s := self.streams.get(f.stream_id):
                s.replied.set()
                if f.flags & spdy.FLAG_FIN:
                    s.remote_closed = True
                    s._wake()
        elif isinstance(f, spdy.RstStream):
            if s := self.streams.pop(f.stream_id, None):
                s.was_reset = True
                s.replied.set()
                s._drop()
        elif isinstance(f, spdy.WindowUpdate):
            self.peer_flow_control = True
            if f.stream_id == 0:
                self.send_window += f.delta
            elif s := self.streams.get(f.stream_id):
                s.send_window += f.delta
            self._window_open.set()
        elif isinstance(f, spdy.Settings):
            if (w := f.values.get(spdy.SETTINGS_INITIAL_WINDOW_SIZE)) is not None:
                self.peer_flow_control = True
                for s in self.streams.values():
                    s.send_window += w - self.peer_initial_window
                self.peer_initial_window = w
                self._window_open.set()
        elif isinstance(f, spdy.Ping):
            if (f.id % 2 == 1) == self.server:  # the peer's ping: echo it
                await self._send(spdy.encode_ping(f.id))
        elif isinstance(f, spdy.GoAway):
            self.going_away = True
        elif (isinstance(f, spdy.HeadersFrame) and f.flags & spdy.FLAG_FIN
              and (s := self.streams.get(f.stream_id))):
            s.remote_closed = True
            s._wake()

    def _check_room(self) -> None:
        if not self._room.is_set() and self._buffered() <= self.max_buffered // 2:
            self._room.set()

    async def _consumed(self, s: Stream, n: int) -> None:
        self._check_room()
        s._unacked += n
        if s._unacked >= spdy.DEFAULT_WINDOW // 2 and not s.remote_closed:
            n, s._unacked = s._unacked, 0
            with suppress(ConnectionError):
                await self._send(spdy.encode_window_update(s.id, n) + spdy.encode_window_update(0, n))

    # ---- the write side ------------------------------------------------------------
    async def _window(self, s: Stream, want: int) -> int:
        """How many bytes s may send now (waits while a flow-controlling peer's window is
        shut); the windows are charged."""
        want = min(want, CHUNK)
        while self.peer_flow_control and not self.closed and not s.was_reset:
            n = min(want, s.send_window, self.send_window)
            if n > 0:
                want = n
                break
            self._window_open.clear()
            await self._window_open.wait()
        s.send_window -= want
        self.send_window -= want
        return want

    async def _send(self, frame: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("SPDY session closed")
        async with self._lock:
            await self.wire.send(frame)

    async def open_stream(self, headers: dict[str, str], *, fin: bool = False) -> Stream:
        """A stream this side opens (the client's role; the server never does in Kubernetes)."""
        async with self._lock:  # ids and the header context must go out in order
            sid, self._next_id = self._next_id, self._next_id + 2
            s = Stream(self, sid, {k.lower(): [v] for k, v in headers.items()})
            s.local_closed = fin
            self.streams[sid] = s
            await self.wire.send(spdy.encode_syn_stream(self._out, sid, s.headers, spdy.FLAG_FIN if fin else 0))
        return s

    def _forget_if_done(self, s: Stream) -> None:
        if (s.remote_closed and s.local_closed) or s.was_reset:
            self.streams.pop(s.id, None)

    async def goaway(self) -> None:
        with suppress(ConnectionError):
            await self._send(spdy.encode_goaway(self._last_peer_id))

    def close(self) -> None:
        self.wire.close()
        self._shut()
