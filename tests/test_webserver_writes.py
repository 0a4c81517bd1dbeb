"""The web server's writes (``jobqueue.webserver.protocol.CoalescingTransport``): what a
response writes in one event-loop step reaches the socket as one write, in order, and
nothing written before a close is lost."""

import asyncio

from jobqueue.webserver.protocol import CoalescingTransport


class RecordingTransport:
    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data):
        assert not self.closed
        self.writes.append(data)

    def is_closing(self):
        return self.closed

    def close(self):
        self.closed = True

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 8093) if name == "sockname" else default


def test_the_writes_of_one_step_go_out_as_one_write_in_order():
    async def respond():
        raw = RecordingTransport()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        assert raw.writes == []
        await asyncio.sleep(0)  # the end of this step
        transport.write(b"next")
        await asyncio.sleep(0)
        return raw.writes

    assert asyncio.run(respond()) == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}", b"next"]


def test_a_close_sends_what_was_written_first_and_the_rest_is_the_transport_s():
    async def respond_and_close():
        raw = RecordingTransport()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        transport.close()
        await asyncio.sleep(0)  # the scheduled send finds nothing left to send
        return raw, transport

    raw, transport = asyncio.run(respond_and_close())
    assert raw.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"]
    assert raw.closed and transport.is_closing()
    assert transport.get_extra_info("sockname") == ("127.0.0.1", 8093)
