"""A real SMTP server for the tests (aiosmtpd in a thread): records every
message it accepts, can stall before answering DATA (to kill a worker while a
mail is in flight) and can be stopped to play "SMTP down"."""

import asyncio
import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller

from conftest import free_port

class Sink:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.stall_next = 0  # how many of the next DATA commands to stall
        self.stalled = threading.Event()  # set while a DATA is being held
        self.release = threading.Event()
        self.aborted = 0  # stalled messages whose client went away
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    # aiosmtpd handler hook
    async def handle_DATA(self, server, session, envelope):
        if self.stall_next > 0:
            self.stall_next -= 1
            self.stalled.set()
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, self.release.wait, 60)
            except asyncio.CancelledError:
                # aiosmtpd cancels the handler when the client's connection drops.
                self.aborted += 1
                raise
            if server.transport is None or server.transport.is_closing():
                # The client died before we said 250: the message was never accepted.
                self.aborted += 1
                return "451 client gone"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def start(self) -> "Sink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()

    def env(self, **extra) -> dict:
        env = {
            "GATEHOUSE_EMAIL__HOST": "127.0.0.1",
            "GATEHOUSE_EMAIL__PORT": self.port,
            "GATEHOUSE_EMAIL__FROM": "Gatehouse Tests <auth@gatehouse.test>",
            "GATEHOUSE_EMAIL__TIMEOUT": 30,
        }
        env.update(extra)
        return env

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list:
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(self.to(address))}")

def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()

def html_of(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()
