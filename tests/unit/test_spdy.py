"""SPDY/3.1 framing (engine/api/spdy.py) and the asyncio session (spdy_session.py),
against hand-built frames and against a second session over an in-memory pipe."""

from __future__ import annotations

import asyncio
import hashlib
import os
import zlib

import pytest
from kubedeck.engine.api import spdy
from kubedeck.engine.api.spdy_session import Session


def test_dictionary_is_the_spdy3_one():
    # zlib checks this Adler-32 (the dictionary id in Go's header blocks) before inflating
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2


def test_every_frame_round_trips():
    tx, rx = spdy.HeaderCodec(), spdy.HeaderCodec()
    wire = b"".join([
        spdy.encode_syn_stream(tx, 1, {"streamtype": ["error"], "port": ["80"]}, spdy.FLAG_FIN),
        spdy.encode_syn_reply(tx, 1, {}),
        spdy.encode_headers(tx, 3, {"a": ["1", "2"]}, spdy.FLAG_FIN),
        spdy.encode_data(3, b"payload", spdy.FLAG_FIN),
        spdy.encode_rst_stream(5, spdy.CANCEL),
        spdy.encode_settings({spdy.SETTINGS_INITIAL_WINDOW_SIZE: 1234}),
        spdy.encode_ping(7),
        spdy.encode_goaway(9, 0),
        spdy.encode_window_update(0, 4096),
    ])
    frames = spdy.Parser(rx).feed(wire)
    assert frames == [
        spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"]}, spdy.FLAG_FIN),
        spdy.SynReply(1, {}),
        spdy.HeadersFrame(3, {"a": ["1", "2"]}, spdy.FLAG_FIN),
        spdy.Data(3, b"payload", spdy.FLAG_FIN),
        spdy.RstStream(5, spdy.CANCEL),
        spdy.Settings({spdy.SETTINGS_INITIAL_WINDOW_SIZE: 1234}),
        spdy.Ping(7),
        spdy.GoAway(9, 0),
        spdy.WindowUpdate(0, 4096),
    ]


def test_parser_waits_for_whole_frames():
    tx = spdy.HeaderCodec()
    wire = spdy.encode_syn_stream(tx, 1, {"streamtype": ["data"]}) + spdy.encode_data(1, b"x" * 1000)
    parser = spdy.Parser(spdy.HeaderCodec())
    frames = []
    for i in range(len(wire)):
        frames += parser.feed(wire[i:i + 1])
    assert [type(f) for f in frames] == [spdy.SynStream, spdy.Data]
    assert frames[1].data == b"x" * 1000


def test_header_blocks_share_one_compression_context():
    tx = spdy.HeaderCodec()
    first = spdy.encode_syn_stream(tx, 1, {"streamtype": ["error"]})
    second = spdy.encode_syn_stream(tx, 3, {"streamtype": ["data"]})
    assert spdy.Parser(spdy.HeaderCodec()).feed(first + second)[1].headers == {"streamtype": ["data"]}
    with pytest.raises(spdy.SpdyError):  # the second block alone means nothing to a fresh context
        spdy.Parser(spdy.HeaderCodec()).feed(second)


def test_unknown_control_frames_are_skipped_and_bad_versions_refused():
    odd = bytes([0x80, 3, 0, 99, 0, 0, 0, 2, 1, 2])
    assert spdy.Parser(spdy.HeaderCodec()).feed(odd + spdy.encode_ping(1)) == [spdy.Ping(1)]
    with pytest.raises(spdy.SpdyError):
        spdy.Parser(spdy.HeaderCodec()).feed(bytes([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]))


# ---- sessions ------------------------------------------------------------------------
class Pipe:
    """One end of an in-memory byte pipe; records what it sent."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.peer: Pipe | None = None
        self.sent: list[bytes] = []

    async def read(self) -> bytes:
        return await self.inbox.get()

    async def send(self, data: bytes) -> None:
        self.sent.append(data)
        self.peer.inbox.put_nowait(data)

    def close(self) -> None:
        self.peer.inbox.put_nowait(b"")
        self.inbox.put_nowait(b"")


def pipe_pair() -> tuple[Pipe, Pipe]:
    a, b = Pipe(), Pipe()
    a.peer, b.peer = b, a
    return a, b


class RawPeer:
    """A hand-driven client (frames in, parsed frames out), like Go's spdystream."""

    def __init__(self, wire: Pipe) -> None:
        self.wire, self.codec, self.parser = wire, spdy.HeaderCodec(), spdy.Parser(spdy.HeaderCodec())
        self.seen = 0

    async def send(self, data: bytes) -> None:
        await self.wire.send(data)

    def frames(self) -> list:
        out = []
        for chunk in self.wire.peer.sent[self.seen:]:
            out += self.parser.feed(chunk)
        self.seen = len(self.wire.peer.sent)
        return out


async def until(cond, timeout: float = 5.0) -> None:
    async def poll():
        while not cond():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_streams_carry_bytes_both_ways_with_half_close():
    async def main():
        c_wire, s_wire = pipe_pair()
        client, server = Session(c_wire, server=False), Session(s_wire)
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(server.run())]
        cs = await client.open_stream({"streamType": "data", "port": "80"})
        ss = await server.accept()
        assert ss.header("streamType") == "data" and ss.header("port") == "80"
        await cs.write(b"ping")
        await cs.close()
        assert await ss.read_all() == b"ping"  # then EOF from the FIN
        await ss.write(b"pong")
        await ss.close()
        assert await cs.read_all() == b"pong"
        assert not server.streams  # both halves closed: forgotten
        client.close()
        await asyncio.gather(*tasks)
        assert server.closed and await server.accept() is None
    run(main())


def test_a_peer_without_flow_control_still_gets_megabytes():
    """Go's spdystream never sends WINDOW_UPDATE: the default window must not stall it."""
    async def main():
        peer_wire, s_wire = pipe_pair()
        server, peer = Session(s_wire), RawPeer(peer_wire)
        reading = asyncio.create_task(server.run())
        await peer.send(spdy.encode_syn_stream(peer.codec, 1, {"streamtype": ["data"]}))
        s = await server.accept()
        blob = os.urandom(1 << 20)
        await s.write(blob)
        got = b"".join(f.data for f in peer.frames() if isinstance(f, spdy.Data))
        assert got == blob
        server.close()
        await reading
    run(main())


def test_windows_are_kept_once_the_peer_announces_them():
    async def main():
        peer_wire, s_wire = pipe_pair()
        server, peer = Session(s_wire), RawPeer(peer_wire)
        reading = asyncio.create_task(server.run())
        await peer.send(spdy.encode_settings({spdy.SETTINGS_INITIAL_WINDOW_SIZE: 1000}))
        await peer.send(spdy.encode_syn_stream(peer.codec, 1, {"streamtype": ["data"]}))
        s = await server.accept()
        writing = asyncio.create_task(s.write(b"z" * 5000))
        sent = []
        await until(lambda: sent.extend(f.data for f in peer.frames() if isinstance(f, spdy.Data)) or
                    sum(map(len, sent)) >= 1000)
        await asyncio.sleep(0.05)
        assert not writing.done() and sum(map(len, sent)) == 1000  # the window is shut
        await peer.send(spdy.encode_window_update(1, 4000))
        await writing
        sent += [f.data for f in peer.frames() if isinstance(f, spdy.Data)]
        assert b"".join(sent) == b"z" * 5000
        server.close()
        await reading
    run(main())


def test_two_sessions_move_data_under_flow_control():
    async def main():
        c_wire, s_wire = pipe_pair()
        client, server = Session(c_wire, server=False), Session(s_wire)
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(server.run())]
        cs = await client.open_stream({"streamType": "data"})
        ss = await server.accept()
        blob = os.urandom(3 << 20)

        async def upload():
            await cs.write(blob)
            await cs.close()
        up = asyncio.create_task(upload())
        got = hashlib.sha256()
        while chunk := await ss.read(10000):
            got.update(chunk)
        await up
        assert got.hexdigest() == hashlib.sha256(blob).hexdigest()
        updates = [f for chunk in s_wire.sent for f in spdy.Parser(spdy.HeaderCodec()).feed(chunk)
                   if isinstance(f, spdy.WindowUpdate)]
        assert client.peer_flow_control and {u.stream_id for u in updates} == {0, cs.id}
        given_back = sum(u.delta for u in updates if u.stream_id == cs.id)
        assert given_back >= len(blob) - server.max_buffered - spdy.DEFAULT_WINDOW  # all but the tail after FIN
        client.close()
        await asyncio.gather(*tasks)
    run(main())


def test_unread_bytes_stop_the_session_reading_the_pipe():
    async def main():
        peer_wire, s_wire = pipe_pair()
        server, peer = Session(s_wire, max_buffered=100_000), RawPeer(peer_wire)
        reading = asyncio.create_task(server.run())
        await peer.send(spdy.encode_syn_stream(peer.codec, 1, {"streamtype": ["data"]}))
        s = await server.accept()
        for _ in range(40):
            await peer.send(spdy.encode_data(1, b"q" * 10_000))
        await peer.send(spdy.encode_data(1, b"", spdy.FLAG_FIN))
        await until(lambda: s_wire.inbox.qsize() < 41)
        await asyncio.sleep(0.05)
        assert s_wire.inbox.qsize() > 20  # the session stopped reading, the pipe holds the rest
        assert len(await s.read_all()) == 400_000
        server.close()
        await reading
    run(main())


def test_pings_are_echoed_and_a_reset_ends_the_reader():
    async def main():
        peer_wire, s_wire = pipe_pair()
        server, peer = Session(s_wire), RawPeer(peer_wire)
        reading = asyncio.create_task(server.run())
        await peer.send(spdy.encode_ping(5) + spdy.encode_syn_stream(peer.codec, 1, {"streamtype": ["data"]}))
        s = await server.accept()
        waiting = asyncio.create_task(s.read())
        await peer.send(spdy.encode_rst_stream(1, spdy.CANCEL))
        assert await waiting == b"" and s.was_reset
        frames = peer.frames()
        assert spdy.Ping(5) in frames and spdy.SynReply(1, {}) in frames
        with pytest.raises(ConnectionResetError):
            await s.write(b"late")
        server.close()
        await reading
    run(main())
