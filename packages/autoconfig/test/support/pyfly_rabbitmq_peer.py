"""A PyFly service's RabbitMQ side, for interoperability tests.

Does what PyFly's RabbitMQ adapter (pyfly.messaging.adapters.rabbitmq, on aio-pika) does on the wire:
a durable *direct* exchange (default name "pyfly"), routing key = topic, the message key dropped,
headers as given; a consumer declares a durable queue named by its group (``pyfly.<topic>`` without
one), binds it with the topic and acknowledges after handling (``message.process()``).

Usage:
  pyfly_rabbitmq_peer.py publish URL EXCHANGE TOPIC COUNT PREFIX
  pyfly_rabbitmq_peer.py consume URL EXCHANGE TOPIC GROUP COUNT TIMEOUT_S
  pyfly_rabbitmq_peer.py produce URL EXCHANGE TOPIC PREFIX
  pyfly_rabbitmq_peer.py serve URL EXCHANGE TOPIC GROUP
The consumer prints "ready" once its queue is bound, then one JSON line per message
({"value": ..., "headers": {...}}), and exits 0 after COUNT messages, 3 on timeout.
"produce" publishes PREFIX-0, PREFIX-1, ... one after the other (each confirmed by the broker, as
aio-pika's channels confirm by default) until a line "stop" arrives on stdin, then prints
"published N" and exits. "serve" is a PyFly group consumer that runs until a line "stop" arrives:
it prints "ready", then each message's value as handled (before its ack), and stops cleanly: no new
message is handled after "stop", the ones being handled are acknowledged before the connection
closes, the others return to the queue unhandled; it prints "stopped" last.
"""
import asyncio
import json
import sys

import aio_pika


async def publish(url: str, exchange_name: str, topic: str, count: int, prefix: str) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.DIRECT, durable=True)
        for i in range(count):
            body = f"{prefix}-{i}".encode()
            headers = {"x-from": "pyfly", "x-seq": str(i)}
            await exchange.publish(aio_pika.Message(body=body, headers=headers), routing_key=topic)


async def consume(url: str, exchange_name: str, topic: str, group: str, count: int, timeout_s: float) -> int:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.DIRECT, durable=True)
        queue = await channel.declare_queue(group or f"pyfly.{topic}", durable=True)
        await queue.bind(exchange, routing_key=topic)
        received = 0
        done = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            async with message.process():
                headers = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in (message.headers or {}).items()}
                print(json.dumps({"value": message.body.decode(), "headers": headers}), flush=True)
                received += 1
                if received >= count:
                    done.set()

        await queue.consume(on_message)
        print("ready", flush=True)
        try:
            await asyncio.wait_for(done.wait(), timeout_s)
            return 0
        except asyncio.TimeoutError:
            return 3


async def stdin_says_stop() -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line == "" or line.strip() == "stop":
            return


async def produce(url: str, exchange_name: str, topic: str, prefix: str) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.DIRECT, durable=True)
        stop = asyncio.ensure_future(stdin_says_stop())
        published = 0
        print("ready", flush=True)
        while not stop.done():
            body = f"{prefix}-{published}".encode()
            await exchange.publish(aio_pika.Message(body=body, headers={"x-from": "pyfly"}), routing_key=topic)
            published += 1
        print(f"published {published}", flush=True)


async def serve(url: str, exchange_name: str, topic: str, group: str) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.DIRECT, durable=True)
        queue = await channel.declare_queue(group or f"pyfly.{topic}", durable=True)
        await queue.bind(exchange, routing_key=topic)
        stopping = False
        in_flight = 0
        idle = asyncio.Event()
        idle.set()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal in_flight
            if stopping:
                # Not handled: back to the queue (with the channel, if this reject does not make it).
                try:
                    await message.reject(requeue=True)
                except Exception:
                    pass
                return
            in_flight += 1
            idle.clear()
            try:
                print(message.body.decode(), flush=True)
                await message.ack()
            finally:
                in_flight -= 1
                if in_flight == 0:
                    idle.set()

        tag = await queue.consume(on_message)
        print("ready", flush=True)
        await stdin_says_stop()
        stopping = True
        await queue.cancel(tag)
        await idle.wait()
        await channel.close()
    print("stopped", flush=True)


def main() -> int:
    command, *args = sys.argv[1:]
    if command == "publish":
        url, exchange, topic, count, prefix = args
        asyncio.run(publish(url, exchange, topic, int(count), prefix))
        return 0
    if command == "consume":
        url, exchange, topic, group, count, timeout_s = args
        return asyncio.run(consume(url, exchange, topic, group, int(count), float(timeout_s)))
    if command == "produce":
        url, exchange, topic, prefix = args
        asyncio.run(produce(url, exchange, topic, prefix))
        return 0
    if command == "serve":
        url, exchange, topic, group = args
        asyncio.run(serve(url, exchange, topic, group))
        return 0
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
