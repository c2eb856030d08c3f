import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.MessageProperties;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The stand-in ceiling of msgport's RabbitMQ publish benchmark (what RabbitMQ PerfTest's
 * `-x 1 -y 0 -s 1024 -c 1000 -f persistent` measures): one connection, one channel in confirm
 * mode, persistent messages of `size` bytes to a durable direct exchange with one bound durable
 * queue, at most `inflight` unconfirmed. Prints "@@result <messages> <seconds> <msg/s>".
 *
 * Usage: java -cp 'libs/*' ConfirmPublisher.java <uri> <exchange> <routingKey> <queue> <count> <inflight> <size>
 */
public class ConfirmPublisher {
  public static void main(String[] args) throws Exception {
    String uri = args[0];
    String exchange = args[1];
    String routingKey = args[2];
    String queue = args[3];
    int count = Integer.parseInt(args[4]);
    int inflight = Integer.parseInt(args[5]);
    byte[] body = new byte[Integer.parseInt(args[6])];

    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(uri);
    try (Connection connection = factory.newConnection(); Channel channel = connection.createChannel()) {
      channel.exchangeDeclare(exchange, "direct", true);
      channel.queueDeclare(queue, true, false, false, null);
      channel.queueBind(queue, exchange, routingKey);
      channel.confirmSelect();

      ConcurrentNavigableMap<Long, Boolean> outstanding = new ConcurrentSkipListMap<>();
      Semaphore permits = new Semaphore(inflight);
      AtomicLong confirmed = new AtomicLong();
      AtomicLong nacked = new AtomicLong();
      channel.addConfirmListener(
          (tag, multiple) -> settle(outstanding, permits, confirmed, tag, multiple),
          (tag, multiple) -> nacked.addAndGet(settle(outstanding, permits, confirmed, tag, multiple)));

      // Warm-up (JIT, connection), then the timed part.
      publish(channel, outstanding, permits, exchange, routingKey, body, Math.min(2_000, count));
      permits.acquire(inflight);
      permits.release(inflight);
      long start = System.nanoTime();
      publish(channel, outstanding, permits, exchange, routingKey, body, count);
      if (!permits.tryAcquire(inflight, 120, TimeUnit.SECONDS)) throw new IllegalStateException("confirms did not arrive");
      double seconds = (System.nanoTime() - start) / 1e9;
      if (nacked.get() > 0) throw new IllegalStateException(nacked.get() + " message(s) nacked");
      System.out.printf("@@result %d %.6f %.1f%n", count, seconds, count / seconds);
    }
  }

  private static void publish(Channel channel, ConcurrentNavigableMap<Long, Boolean> outstanding, Semaphore permits,
      String exchange, String routingKey, byte[] body, int count) throws Exception {
    for (int i = 0; i < count; i++) {
      permits.acquire();
      outstanding.put(channel.getNextPublishSeqNo(), Boolean.TRUE);
      channel.basicPublish(exchange, routingKey, MessageProperties.PERSISTENT_BASIC, body);
    }
  }

  /** Forgets the confirmed tags and frees their permits; returns how many there were. */
  private static long settle(ConcurrentNavigableMap<Long, Boolean> outstanding, Semaphore permits, AtomicLong confirmed,
      long tag, boolean multiple) {
    int n;
    if (multiple) {
      ConcurrentNavigableMap<Long, Boolean> done = outstanding.headMap(tag, true);
      n = done.size();
      done.clear();
    } else {
      n = outstanding.remove(tag) == null ? 0 : 1;
    }
    confirmed.addAndGet(n);
    permits.release(n);
    return n;
  }
}
