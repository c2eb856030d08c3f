"""A PyFly service's RabbitMQ side, for interoperability tests.

Does what PyFly's RabbitMQ adapter (pyfly.messaging.adapters.rabbitmq, on aio-pika) does on the wire:
a durable *direct* exchange (default name "pyfly"), routing key = topic, the message key dropped,
headers as given; a consumer declares a durable queue named by its group (``pyfly.<topic>`` without
one), binds it with the topic and acknowledges after handling (``message.process()``).

Usage:
  pyfly_rabbitmq_peer.py publish URL EXCHANGE TOPIC COUNT PREFIX
  pyfly_rabbitmq_peer.py consume URL EXCHANGE TOPIC GROUP COUNT TIMEOUT_S
The consumer prints "ready" once its queue is bound, then one JSON line per message
({"value": ..., "headers": {...}}), and exits 0 after COUNT messages, 3 on timeout.
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


def main() -> int:
    command, *args = sys.argv[1:]
    if command == "publish":
        url, exchange, topic, count, prefix = args
        asyncio.run(publish(url, exchange, topic, int(count), prefix))
        return 0
    if command == "consume":
        url, exchange, topic, group, count, timeout_s = args
        return asyncio.run(consume(url, exchange, topic, group, int(count), float(timeout_s)))
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
